// TOTP (RFC 6238, through the otpauth library): enrolment with an otpauth:// URI, confirmation with a first
// code, ten one-time recovery codes (only their hashes kept), disabling with a code. The secret is sealed
// with the workspace's data key; a code is accepted once (its time step is remembered).
import * as OTPAuth from "otpauth";
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { sha256Hex } from "./tokens.ts";

const PERIOD = 30;

function totp(secretBase32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ issuer: "Causeloop", label, algorithm: "SHA1", digits: 6, period: PERIOD, secret: OTPAuth.Secret.fromBase32(secretBase32) });
}

interface FactorRow {
  id: string;
  secret_encrypted: string;
  recovery_code_hashes: string[];
  confirmed_at: Date | null;
  last_used_step: number | string | null;
}

async function factor(tx: Tx, workspaceId: string, userId: string): Promise<FactorRow | undefined> {
  const [row] = await tx.query<FactorRow>("select id, secret_encrypted, recovery_code_hashes, confirmed_at, last_used_step from mfa_factors where workspace_id = $1 and user_id = $2 and kind = 'totp'", [workspaceId, userId]);
  return row;
}

export async function enrollTotp(tx: Tx, kek: KekProvider, workspaceId: string, userId: string, email: string): Promise<{ otpauth_uri: string; secret: string }> {
  const existing = await factor(tx, workspaceId, userId);
  if (existing?.confirmed_at) throw new AppError("conflict", "MFA is already enabled; disable it first");
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  const id = existing?.id ?? newId("mfa");
  const sealed = await new SecretBox(tx, kek, workspaceId).seal({ table: "mfa_factors", column: "secret_encrypted", rowId: id }, secret);
  if (existing) await tx.query("update mfa_factors set secret_encrypted = $3, recovery_code_hashes = '{}' where workspace_id = $1 and id = $2", [workspaceId, id, sealed]);
  else await tx.query("insert into mfa_factors (workspace_id, id, user_id, kind, secret_encrypted) values ($1, $2, $3, 'totp', $4)", [workspaceId, id, userId, sealed]);
  return { otpauth_uri: totp(secret, email).toString(), secret };
}

async function checkTotp(tx: Tx, kek: KekProvider, workspaceId: string, row: FactorRow, code: string): Promise<boolean> {
  if (!/^\d{6}$/.test(code)) return false;
  const secret = await new SecretBox(tx, kek, workspaceId).open({ table: "mfa_factors", column: "secret_encrypted", rowId: row.id }, row.secret_encrypted);
  const delta = totp(secret, "x").validate({ token: code, window: 1 });
  if (delta === null) return false;
  const step = Math.floor(Date.now() / 1000 / PERIOD) + delta;
  if (row.last_used_step !== null && step <= Number(row.last_used_step)) return false; // replayed code
  await tx.query("update mfa_factors set last_used_step = $3 where workspace_id = $1 and id = $2", [workspaceId, row.id, step]);
  return true;
}

export async function confirmTotp(tx: Tx, kek: KekProvider, workspaceId: string, userId: string, code: string): Promise<{ recovery_codes: string[] }> {
  const row = await factor(tx, workspaceId, userId);
  if (!row) throw new AppError("conflict", "start MFA enrolment first (POST /v1/me/mfa/totp)");
  if (row.confirmed_at) throw new AppError("conflict", "MFA is already enabled");
  if (!(await checkTotp(tx, kek, workspaceId, row, code))) throw new AppError("validation_failed", "the code is not valid");
  const codes = Array.from({ length: 10 }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex").replace(/(.{4})(?=.)/g, "$1-"));
  await tx.query("update mfa_factors set confirmed_at = now(), recovery_code_hashes = $3 where workspace_id = $1 and id = $2", [workspaceId, row.id, codes.map((c) => sha256Hex(c))]);
  return { recovery_codes: codes };
}

/** A TOTP code, or a recovery code (consumed on use). */
export async function verifyMfaCode(tx: Tx, kek: KekProvider, workspaceId: string, userId: string, code: string): Promise<boolean> {
  const row = await factor(tx, workspaceId, userId);
  if (!row?.confirmed_at) return false;
  const trimmed = code.trim().toLowerCase();
  if (await checkTotp(tx, kek, workspaceId, row, trimmed)) return true;
  const hash = sha256Hex(trimmed);
  if (!row.recovery_code_hashes.includes(hash)) return false;
  await tx.query("update mfa_factors set recovery_code_hashes = array_remove(recovery_code_hashes, $3) where workspace_id = $1 and id = $2", [workspaceId, row.id, hash]);
  return true;
}

export async function disableTotp(tx: Tx, kek: KekProvider, workspaceId: string, userId: string, code: string): Promise<void> {
  if (!(await verifyMfaCode(tx, kek, workspaceId, userId, code))) throw new AppError("validation_failed", "the code is not valid");
  await tx.query("delete from mfa_factors where workspace_id = $1 and user_id = $2", [workspaceId, userId]);
}
