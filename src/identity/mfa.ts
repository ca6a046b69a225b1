// TOTP (RFC 6238, through the otpauth library) as the ACCOUNT's second factor: one factor per person, asked
// at every password login into every workspace. Enrolment with an otpauth:// URI, confirmation with a first
// code, ten one-time recovery codes (only their hashes kept), disabling with a code. The secret is wrapped
// by the master key (AAD binds user and factor) and lives in the global user_mfa_factors, which the runtime
// role reaches only through auth_mfa_* functions guarded by an active membership in the current workspace.
// A code is accepted once: its time step is claimed atomically, so a replay or a concurrent second use fails.
import * as OTPAuth from "otpauth";
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { mfaAad, SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { sha256Hex } from "./tokens.ts";

const PERIOD = 30;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function totp(secretBase32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: "Causeloop",
    label,
    algorithm: "SHA1",
    digits: 6,
    period: PERIOD,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
  });
}

interface FactorRow {
  id: string;
  secret_wrapped: string;
  kek_version: number;
  recovery_code_hashes: string[];
  confirmed_at: Date | null;
}

async function factor(tx: Tx, userId: string): Promise<FactorRow | undefined> {
  const [row] = await tx.query<FactorRow>(
    "select id, secret_wrapped, kek_version, recovery_code_hashes, confirmed_at from auth_mfa_get($1)",
    [userId],
  );
  return row;
}

async function begin(tx: Tx, kek: KekProvider, userId: string, secret: string): Promise<boolean> {
  const id = newId("mfa");
  const wrapped = await kek.wrap(encoder.encode(secret), mfaAad(userId, id));
  const [row] = await tx.query<{ ok: boolean }>("select auth_mfa_begin($1, $2, $3, $4) as ok", [
    userId,
    id,
    wrapped,
    kek.currentVersion,
  ]);
  return Boolean(row?.ok);
}

/**
 * Moves a factor enrolled before MFA belonged to the account (in one workspace's mfa_factors, sealed with that
 * workspace's key) to the account, once. Runs its own short transactions, one after another (never nested:
 * PGlite has one connection): find where the factor is (through the workspace being signed into), open it in
 * its workspace, re-wrap it for the account, then remove the old row.
 */
export async function adoptLegacyFactor(
  door: <T>(ws: string, fn: (tx: Tx) => Promise<T>) => Promise<T>,
  kek: KekProvider,
  workspaceId: string,
  userId: string,
): Promise<void> {
  const legacyWs = await door(workspaceId, async (tx) => {
    const [row] = await tx.query<{ ws: string | null }>("select auth_mfa_legacy_workspace($1) as ws", [userId]);
    return row?.ws ?? undefined;
  });
  if (!legacyWs) return;
  const old = await door(legacyWs, async (tx) => {
    const [row] = await tx.query<{ id: string; secret_encrypted: string; recovery_code_hashes: string[] }>(
      "select id, secret_encrypted, recovery_code_hashes from mfa_factors where workspace_id = $1 and user_id = $2 and confirmed_at is not null",
      [legacyWs, userId],
    );
    if (!row) return undefined;
    const secret = await new SecretBox(tx, kek, legacyWs).open(
      { table: "mfa_factors", column: "secret_encrypted", rowId: row.id },
      row.secret_encrypted,
    );
    return { ...row, secret };
  });
  if (!old) return;
  await door(workspaceId, async (tx) => {
    if (await begin(tx, kek, userId, old.secret))
      await tx.query("select auth_mfa_confirm($1, $2)", [userId, old.recovery_code_hashes]);
  });
  await door(legacyWs, (tx) =>
    tx.query("delete from mfa_factors where workspace_id = $1 and user_id = $2", [legacyWs, userId]),
  );
}

/** Whether the account has a confirmed second factor. */
export async function mfaEnabled(tx: Tx, userId: string): Promise<boolean> {
  return Boolean((await factor(tx, userId))?.confirmed_at);
}

export async function enrollTotp(
  tx: Tx,
  kek: KekProvider,
  userId: string,
  email: string,
): Promise<{ otpauth_uri: string; secret: string }> {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  if (!(await begin(tx, kek, userId, secret)))
    throw new AppError("conflict", "MFA is already enabled on your account; disable it first");
  return { otpauth_uri: totp(secret, email).toString(), secret };
}

async function checkTotp(tx: Tx, kek: KekProvider, userId: string, row: FactorRow, code: string): Promise<boolean> {
  if (!/^\d{6}$/.test(code)) return false;
  const secret = decoder.decode(await kek.unwrap(row.secret_wrapped, row.kek_version, mfaAad(userId, row.id)));
  const delta = totp(secret, "x").validate({ token: code, window: 1 });
  if (delta === null) return false;
  const step = Math.floor(Date.now() / 1000 / PERIOD) + delta;
  const [claimed] = await tx.query<{ ok: boolean | null }>("select auth_mfa_claim_step($1, $2) as ok", [userId, step]);
  return Boolean(claimed?.ok);
}

export async function confirmTotp(
  tx: Tx,
  kek: KekProvider,
  userId: string,
  code: string,
): Promise<{ recovery_codes: string[] }> {
  const row = await factor(tx, userId);
  if (!row) throw new AppError("conflict", "start MFA enrolment first (POST /v1/me/mfa/totp)");
  if (row.confirmed_at) throw new AppError("conflict", "MFA is already enabled");
  if (!(await checkTotp(tx, kek, userId, row, code))) throw new AppError("validation_failed", "the code is not valid");
  const codes = Array.from({ length: 10 }, () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(8)))
      .toString("hex")
      .replace(/(.{4})(?=.)/g, "$1-"),
  );
  const [done] = await tx.query<{ ok: boolean | null }>("select auth_mfa_confirm($1, $2) as ok", [
    userId,
    codes.map((c) => sha256Hex(c)),
  ]);
  if (!done?.ok) throw new AppError("conflict", "MFA is already enabled");
  return { recovery_codes: codes };
}

/** A TOTP code, or a recovery code (consumed on use). */
export async function verifyMfaCode(tx: Tx, kek: KekProvider, userId: string, code: string): Promise<boolean> {
  const row = await factor(tx, userId);
  if (!row?.confirmed_at) return false;
  const trimmed = code.trim().toLowerCase();
  if (await checkTotp(tx, kek, userId, row, trimmed)) return true;
  const [used] = await tx.query<{ ok: boolean | null }>("select auth_mfa_use_recovery($1, $2) as ok", [
    userId,
    sha256Hex(trimmed),
  ]);
  return Boolean(used?.ok);
}

export async function disableTotp(tx: Tx, kek: KekProvider, userId: string, code: string): Promise<void> {
  if (!(await verifyMfaCode(tx, kek, userId, code))) throw new AppError("validation_failed", "the code is not valid");
  await tx.query("select auth_mfa_delete($1)", [userId]);
}
