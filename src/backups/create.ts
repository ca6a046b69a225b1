// `causeloop backup`: a snapshot of the live database (embedded: inside `serve` through its control socket, so
// service never stops; PostgreSQL: pg_dump in a snapshot of its own, see postgres.ts), encrypted as it is
// written under a fresh data key wrapped by the master key ring, and a signed manifest of what it holds. The
// data file and then the manifest are renamed into place last: a killed run never leaves a backup that looks
// complete.
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
import { encryptToFile, NONCE_BYTES, TAG_BYTES, type EncryptResult } from "./cipher.ts";
import { dataAad, dataKeyAad, signManifest, type BackupManifest, type ChainHead } from "./manifest.ts";
import { dumpDatabase, type PostgresFacts, type PostgresTarget } from "./postgres.ts";
import { dataFileName, ensureBackupDir, manifestFileName, partialName, removeLeftovers } from "./store.ts";

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

type Seal = (source: Readable, gzip: boolean) => Promise<EncryptResult>;

interface Snapshot {
  engine: BackupManifest["engine"];
  facts: SnapshotFacts;
  sealed: EncryptResult;
  sizes: { tar_bytes?: number };
  plaintext: BackupManifest["cipher"]["plaintext"];
  postgres?: PostgresFacts;
}

/** PGlite: the data dir copied while every other transaction waits, then compressed and sealed. */
async function pgliteSnapshot(engine: Engine, seal: Seal): Promise<Snapshot> {
  const dump = engine.dumpDataDir?.bind(engine);
  if (!dump) throw new AppError("internal", `the ${engine.kind} engine cannot copy its data dir`);
  // A checkpoint first keeps the WAL the copy must replay short.
  await engine.exec("CHECKPOINT");
  // Every other transaction waits while this one counts and the files are copied (uncompressed, so the
  // pause is short), so the counts and chain heads are exactly those of the copy.
  const { facts, tarball } = await engine.transaction(async (tx) => {
    const facts = await snapshotFacts(tx);
    return { facts, tarball: await dump() };
  });
  const sealed = await seal(Readable.fromWeb(tarball.stream() as unknown as NodeReadableStream<Uint8Array>), true);
  return { engine: "pglite", facts, sealed, sizes: { tar_bytes: tarball.size }, plaintext: "pglite-datadir.tar.gz" };
}

/** PostgreSQL: pg_dump's archive (compressed by pg_dump) sealed as it streams (src/backups/postgres.ts). */
async function postgresSnapshot(engine: Engine, target: PostgresTarget, seal: Seal): Promise<Snapshot> {
  const dumped = await dumpDatabase(engine, target, (source) => seal(source, false), snapshotFacts);
  return { engine: "postgres", ...dumped, sizes: {}, plaintext: "pg_dump-custom" };
}

export async function createBackup(
  engine: Engine,
  deps: { dir: string; kek: KekProvider; signer: Signer; actor: string; postgres?: PostgresTarget },
): Promise<BackupResult> {
  if (engine.kind === "postgres" && !deps.postgres)
    throw new AppError("config_invalid", "backups on PostgreSQL need the owner connection: set DATABASE_OWNER_URL");
  ensureBackupDir(deps.dir);
  const removed = removeLeftovers(deps.dir);
  const id = newId("bkp");
  const started = new Date();
  const dataPartial = join(deps.dir, partialName(dataFileName(id)));
  const manifestPartial = join(deps.dir, partialName(manifestFileName(id)));
  const key = new Uint8Array(crypto.getRandomValues(new Uint8Array(32)));
  try {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const kekVersion = deps.kek.currentVersion;
    const wrapped = await deps.kek.wrap(key, dataKeyAad(id));
    const seal = (source: Readable, gzip: boolean) =>
      encryptToFile(source, dataPartial, key, nonce, dataAad(id), { gzip });
    const snapshot = deps.postgres
      ? await postgresSnapshot(engine, deps.postgres, seal)
      : await pgliteSnapshot(engine, seal);
    const { facts, sealed } = snapshot;
    fsyncFile(dataPartial);
    const finished = new Date();
    const manifest: BackupManifest = {
      format: "causeloop.backup.v1",
      id,
      engine: snapshot.engine,
      causeloop_version: VERSION,
      started_at: started.toISOString(),
      finished_at: finished.toISOString(),
      data_file: dataFileName(id),
      sizes: { ...snapshot.sizes, snapshot_bytes: sealed.plaintextBytes, encrypted_bytes: sealed.encryptedBytes },
      sha256: sealed.sha256,
      cipher: {
        algorithm: "aes-256-gcm",
        nonce: Buffer.from(nonce).toString("base64url"),
        tag_bytes: TAG_BYTES,
        aad: dataAad(id),
        layout: "ciphertext || tag",
        plaintext: snapshot.plaintext,
      },
      key: { wrapped, kek_version: kekVersion, aad: dataKeyAad(id) },
      ...facts,
      ...(snapshot.postgres ? { postgres: snapshot.postgres } : {}),
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
