// `causeloop backup` on the embedded engine: a snapshot of the live database (inside `serve` through its
// control socket, so service never stops), encrypted as it is written under a fresh data key wrapped by the
// master key ring, and a signed manifest of what it holds. The data file and then the manifest are renamed
// into place last: a killed run never leaves a backup that looks complete.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { logOperatorAction } from "../audit/operator-log.ts";
import type { Signer } from "../audit/signing.ts";
import type { Engine, Queryable } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { VERSION } from "../version.ts";
import { encryptToFile, NONCE_BYTES, TAG_BYTES } from "./cipher.ts";
import { dataAad, dataKeyAad, signManifest, type BackupManifest, type ChainHead } from "./manifest.ts";
import {
  dataFileName,
  ensureBackupDir,
  manifestFileName,
  partialName,
  POSTGRES_REFUSAL,
  removeLeftovers,
} from "./store.ts";

export interface SnapshotFacts {
  migrations: BackupManifest["migrations"];
  tables: Record<string, number>;
  audit_heads: ChainHead[];
}

/**
 * What a database holds, as the manifest records it and verify compares it: the migration ledger, every
 * public table's row count and every audit chain's head. Read as the owner (PGlite's superuser sees every
 * workspace's rows; RLS does not apply to it).
 */
export async function snapshotFacts(db: Queryable): Promise<SnapshotFacts> {
  const migrations = (
    await db.query<{ name: string; sha256: string; applied_at: Date }>(
      "select name, sha256, applied_at from schema_migrations order by name",
    )
  ).map((m) => ({ name: m.name, sha256: m.sha256, applied_at: new Date(m.applied_at).toISOString() }));
  const tables: Record<string, number> = {};
  const names = await db.query<{ name: string }>(
    "select tablename::text as name from pg_tables where schemaname = 'public' order by tablename",
  );
  for (const { name } of names) {
    const [row] = await db.query<{ n: number }>(
      `select count(*)::float8 as n from public."${name.replaceAll('"', '""')}"`,
    );
    tables[name] = row?.n ?? 0;
  }
  const workspaces = await db.query<{ stream: string; seq: number; hash: string }>(
    `select distinct on (workspace_id) workspace_id as stream, seq::float8 as seq, hash
       from audit_log order by workspace_id, seq desc`,
  );
  const [operator] = await db.query<{ seq: number; hash: string }>(
    "select seq::float8 as seq, hash from operator_log order by seq desc limit 1",
  );
  const audit_heads: ChainHead[] = [...workspaces.map((w) => ({ stream: w.stream, seq: w.seq, hash: w.hash }))];
  if (operator) audit_heads.push({ stream: "operator", seq: operator.seq, hash: operator.hash });
  return { migrations, tables, audit_heads };
}

export interface BackupResult {
  id: string;
  manifest: string;
  data_file: string;
  snapshot_bytes: number;
  encrypted_bytes: number;
  sha256: string;
  started_at: string;
  finished_at: string;
  seconds: number;
  tables: number;
  workspaces: number;
  /** Files a killed earlier run left behind, removed before this one started. */
  removed_leftovers: string[];
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function createBackup(
  engine: Engine,
  deps: { dir: string; kek: KekProvider; signer: Signer; actor: string },
): Promise<BackupResult> {
  const dump = engine.dumpDataDir?.bind(engine);
  if (engine.kind !== "pglite" || !dump) throw new AppError("bad_request", POSTGRES_REFUSAL);
  ensureBackupDir(deps.dir);
  const removed = removeLeftovers(deps.dir);
  const id = newId("bkp");
  const started = new Date();
  const dataPartial = join(deps.dir, partialName(dataFileName(id)));
  const manifestPartial = join(deps.dir, partialName(manifestFileName(id)));
  const key = new Uint8Array(crypto.getRandomValues(new Uint8Array(32)));
  try {
    // A checkpoint first keeps the WAL the copy must replay short.
    await engine.exec("CHECKPOINT");
    // Every other transaction waits while this one counts and the files are copied (uncompressed, so the
    // pause is short), so the counts and chain heads are exactly those of the copy.
    const { facts, tarball } = await engine.transaction(async (tx) => {
      const facts = await snapshotFacts(tx);
      return { facts, tarball: await dump() };
    });
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const kekVersion = deps.kek.currentVersion;
    const wrapped = await deps.kek.wrap(key, dataKeyAad(id));
    const source = Readable.fromWeb(tarball.stream() as unknown as NodeReadableStream<Uint8Array>);
    const sealed = await encryptToFile(source, dataPartial, key, nonce, dataAad(id));
    fsyncFile(dataPartial);
    const finished = new Date();
    const manifest: BackupManifest = {
      format: "causeloop.backup.v1",
      id,
      engine: "pglite",
      causeloop_version: VERSION,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      data_file: dataFileName(id),
      sizes: { tar_bytes: tarball.size, snapshot_bytes: sealed.plaintextBytes, encrypted_bytes: sealed.encryptedBytes },
      sha256: sealed.sha256,
      cipher: {
        algorithm: "aes-256-gcm",
        nonce: Buffer.from(nonce).toString("base64url"),
        tag_bytes: TAG_BYTES,
        aad: dataAad(id),
        layout: "ciphertext || tag",
        plaintext: "pglite-datadir.tar.gz",
      },
      key: { wrapped, kek_version: kekVersion, aad: dataKeyAad(id) },
      ...facts,
    };
    const signed = await signManifest(manifest, deps.signer);
    writeFileSync(manifestPartial, `${JSON.stringify(signed, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    fsyncFile(manifestPartial);
    renameSync(dataPartial, join(deps.dir, dataFileName(id)));
    renameSync(manifestPartial, join(deps.dir, manifestFileName(id)));
    fsyncFile(deps.dir);
    const result: BackupResult = {
      id,
      manifest: join(deps.dir, manifestFileName(id)),
      data_file: join(deps.dir, dataFileName(id)),
      snapshot_bytes: sealed.plaintextBytes,
      encrypted_bytes: sealed.encryptedBytes,
      sha256: sealed.sha256,
      started_at: manifest.started_at,
      finished_at: manifest.finished_at,
      seconds: (finished.getTime() - started.getTime()) / 1000,
      tables: Object.keys(facts.tables).length,
      workspaces: facts.audit_heads.filter((h) => h.stream !== "operator").length,
      removed_leftovers: removed,
    };
    await logOperatorAction(engine, {
      action: "backup.created",
      actor: deps.actor,
      targetType: "backup",
      targetId: id,
      after: {
        sha256: result.sha256,
        encrypted_bytes: result.encrypted_bytes,
        kek_version: kekVersion,
        seconds: result.seconds,
        directory: deps.dir,
      },
    });
    return result;
  } catch (error) {
    rmSync(dataPartial, { force: true });
    rmSync(manifestPartial, { force: true });
    await logOperatorAction(engine, {
      action: "backup.failed",
      actor: deps.actor,
      targetType: "backup",
      targetId: id,
      after: { reason: error instanceof Error ? error.message.split("\n")[0] : String(error) },
    }).catch(() => {});
    throw error;
  } finally {
    key.fill(0);
  }
}
