// Per-workspace data keys (DEKs) and the sealed values of every *_encrypted column. A DEK is stored only
// wrapped by the master key; a value's ciphertext is bound (AAD) to its workspace, table, column and row.
import type { Queryable } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { b64url, fromB64url, gcmOpen, gcmSeal, importAesKey, type KekProvider } from "./keyring.ts";

/** Where a sealed value lives; all four are bound into the ciphertext. */
export interface SealContext {
  table: string;
  column: string;
  rowId: string;
}

export interface Dek {
  version: number;
  key: CryptoKey;
}

const FORMAT = /^clp1\.(\d+)\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const dekAad = (workspaceId: string, version: number) => `causeloop:dek:${workspaceId}:${version}`;
/** The AAD of an account's TOTP secret, wrapped by the master key itself (it belongs to no workspace). */
export const mfaAad = (userId: string, factorId: string) => `causeloop:mfa:${userId}:${factorId}`;
const valueAad = (workspaceId: string, ctx: SealContext) => `${workspaceId}|${ctx.table}|${ctx.column}|${ctx.rowId}`;

export function isCiphertext(value: string): boolean {
  return FORMAT.test(value);
}

export function dekVersionOf(ciphertext: string): number {
  const match = FORMAT.exec(ciphertext);
  if (!match) throw new AppError("internal", "stored secret is not in the clp1 ciphertext format");
  return Number(match[1]);
}

interface KeyRow {
  version: number;
  kek_version: number;
  wrapped_dek: string;
  status: string;
}

async function unwrapRow(kek: KekProvider, workspaceId: string, row: KeyRow): Promise<Dek> {
  const raw = await kek.unwrap(row.wrapped_dek, row.kek_version, dekAad(workspaceId, row.version));
  return { version: row.version, key: await importAesKey(raw) };
}

/** Inserts a new DEK version for the workspace (wrapped by the current KEK); returns it unwrapped. */
export async function insertDek(
  db: Queryable,
  kek: KekProvider,
  workspaceId: string,
  version: number,
  status: "active" | "retired" = "active",
): Promise<{ inserted: boolean; dek: Dek }> {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const wrapped = await kek.wrap(raw, dekAad(workspaceId, version));
  const rows = await db.query(
    `insert into workspace_keys (workspace_id, id, version, kek_version, wrapped_dek, status) values ($1, $2, $3, $4, $5, $6)
     on conflict do nothing returning id`,
    [workspaceId, newId("key"), version, kek.currentVersion, wrapped, status],
  );
  return { inserted: rows.length > 0, dek: { version, key: await importAesKey(raw) } };
}

/**
 * The workspace's active DEK, created (version 1, or the next) when it has none. Safe under concurrency:
 * the unique indexes let one insert win and everyone reads the winner.
 */
export async function ensureActiveDek(db: Queryable, kek: KekProvider, workspaceId: string): Promise<Dek> {
  for (let attempt = 0; attempt < 3; attempt++) {
    // FOR SHARE: a transaction that seals under this DEK holds it until commit, so rotate-dek cannot retire (and
    // later destroy) the DEK while a row sealed under it is still uncommitted and invisible to the re-encryption.
    const [active] = await db.query<KeyRow>(
      "select version, kek_version, wrapped_dek, status from workspace_keys where workspace_id = $1 and status = 'active' for share",
      [workspaceId],
    );
    if (active) return unwrapRow(kek, workspaceId, active);
    const [max] = await db.query<{ v: number }>(
      "select coalesce(max(version), 0)::int as v from workspace_keys where workspace_id = $1",
      [workspaceId],
    );
    const { inserted, dek } = await insertDek(db, kek, workspaceId, (max?.v ?? 0) + 1);
    if (inserted) return dek;
  }
  throw new AppError("internal", "could not create the workspace data key");
}

/**
 * Seals and opens the secrets of one workspace inside one tenant transaction, caching unwrapped DEKs for
 * the life of the request.
 */
export class SecretBox {
  private readonly cache = new Map<number, Promise<Dek>>();
  private active: Promise<Dek> | undefined;

  constructor(
    private readonly db: Queryable,
    private readonly kek: KekProvider,
    readonly workspaceId: string,
  ) {}

  private activeDek(): Promise<Dek> {
    this.active ??= ensureActiveDek(this.db, this.kek, this.workspaceId).then((dek) => {
      this.cache.set(dek.version, Promise.resolve(dek));
      return dek;
    });
    return this.active;
  }

  private dek(version: number): Promise<Dek> {
    let dek = this.cache.get(version);
    if (!dek) {
      dek = (async () => {
        const [row] = await this.db.query<KeyRow>(
          "select version, kek_version, wrapped_dek, status from workspace_keys where workspace_id = $1 and version = $2",
          [this.workspaceId, version],
        );
        if (!row || row.status === "destroyed")
          throw new AppError(
            "internal",
            `secret cannot be decrypted: data key v${version} of this workspace is gone (destroyed or purged)`,
          );
        return unwrapRow(this.kek, this.workspaceId, row);
      })();
      this.cache.set(version, dek);
    }
    return dek;
  }

  async seal(ctx: SealContext, plaintext: string): Promise<string> {
    return sealWith(await this.activeDek(), this.workspaceId, ctx, plaintext);
  }

  async open(ctx: SealContext, ciphertext: string): Promise<string> {
    return openWith(await this.dek(dekVersionOf(ciphertext)), this.workspaceId, ctx, ciphertext);
  }
}

export async function sealWith(dek: Dek, workspaceId: string, ctx: SealContext, plaintext: string): Promise<string> {
  const sealed = await gcmSeal(dek.key, encoder.encode(plaintext), valueAad(workspaceId, ctx));
  return `clp1.${dek.version}.${b64url(sealed.slice(0, 12))}.${b64url(sealed.slice(12))}`;
}

export async function openWith(dek: Dek, workspaceId: string, ctx: SealContext, ciphertext: string): Promise<string> {
  const match = FORMAT.exec(ciphertext);
  if (!match)
    throw new AppError("internal", `secret in ${ctx.table}.${ctx.column} is not in the clp1 ciphertext format`);
  const nonce = fromB64url(match[2] as string);
  const body = fromB64url(match[3] as string);
  const data = new Uint8Array(nonce.length + body.length);
  data.set(nonce);
  data.set(body, nonce.length);
  try {
    return decoder.decode(await gcmOpen(dek.key, data, valueAad(workspaceId, ctx)));
  } catch {
    throw new AppError(
      "internal",
      `secret in ${ctx.table}.${ctx.column} of ${ctx.rowId} cannot be decrypted: it was altered, moved from another row, or sealed under another key`,
    );
  }
}
