// `causeloop backup verify` and the first half of `restore`: the manifest's signature, the encrypted file's
// sha256, the data key (only the right master key ring unwraps it), decryption (GCM's tag proves the file is
// whole), then the snapshot opened as a database of its own and compared with the manifest: row counts,
// audit chain heads, the migration ledger, and doctor's row-level security checks. Each failure says why. The
// copy is a PGlite data dir, or on PostgreSQL a scratch database on the same server (postgres.ts).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { openPglite, type Engine } from "../db/engine.ts";
import { migrationStatus } from "../db/migrate.ts";
import { doctor } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { decryptFile, hashFile } from "./cipher.ts";
import { snapshotFacts, type SnapshotFacts } from "./create.ts";
import { backupDataKey } from "./rekey.ts";
import { readManifest, signatureProblems, type Jwks, type SignedManifest } from "./manifest.ts";
import { createScratchDatabase, type PostgresTarget, type SnapshotLoader } from "./postgres.ts";
import { dataFileOf, ensureBackupDir, locateManifest, removeLeftovers } from "./store.ts";

export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  id: string | undefined;
  manifest: string;
  /** Where the signature's key came from. */
  key_source: string;
  checks: VerifyCheck[];
  problems: string[];
  seconds: number;
}

export interface VerifyDeps {
  /** The backup directory (for ids, and for scratch space). */
  dir: string;
  kek: KekProvider;
  /** The public keys to check the manifest's signature with. */
  keys: Jwks["keys"];
  keySource: string;
  /** PostgreSQL: the owner connection (scratch copies are made on its server) and the client tools. */
  postgres?: PostgresTarget;
}

/** Differences between what the manifest promises and what the opened snapshot holds. */
export function compareFacts(expected: SnapshotFacts, actual: SnapshotFacts): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  const tables = new Set([...Object.keys(expected.tables), ...Object.keys(actual.tables)]);
  const differ = [...tables]
    .sort()
    .filter((t) => expected.tables[t] !== actual.tables[t])
    .map((t) => `${t}: manifest ${expected.tables[t] ?? "absent"}, backup ${actual.tables[t] ?? "absent"}`);
  checks.push({
    name: "row counts",
    ok: differ.length === 0,
    detail: differ.length === 0 ? `${tables.size} tables match the manifest` : `counts differ: ${differ.join("; ")}`,
  });
  const heads = new Map(actual.audit_heads.map((h) => [h.stream, h]));
  const headProblems: string[] = [];
  for (const head of expected.audit_heads) {
    const got = heads.get(head.stream);
    if (!got) headProblems.push(`${head.stream}: chain absent from the backup`);
    else if (got.seq !== head.seq || got.hash !== head.hash)
      headProblems.push(
        `${head.stream}: manifest seq ${head.seq}, backup seq ${got.seq} (hash ${got.hash.slice(0, 12)})`,
      );
    heads.delete(head.stream);
  }
  for (const extra of heads.keys()) headProblems.push(`${extra}: chain not in the manifest`);
  checks.push({
    name: "audit chain heads",
    ok: headProblems.length === 0,
    detail:
      headProblems.length === 0
        ? `${expected.audit_heads.length} chain heads match the manifest`
        : `chain heads differ: ${headProblems.join("; ")}`,
  });
  const ledger = JSON.stringify(actual.migrations) === JSON.stringify(expected.migrations);
  checks.push({
    name: "migration ledger",
    ok: ledger,
    detail: ledger
      ? `${expected.migrations.length} migrations match the manifest`
      : "the migration ledger differs from the manifest",
  });
  return checks;
}

/** migrate status and doctor's isolation checks on the opened snapshot. */
async function databaseChecks(engine: Engine, label: string): Promise<VerifyCheck[]> {
  const status = await migrationStatus(engine);
  const drift = status.filter((s) => s.state === "changed" || s.state === "missing");
  const pending = status.filter((s) => s.state === "pending").length;
  const checks: VerifyCheck[] = [
    {
      name: "migration status",
      ok: drift.length === 0,
      detail:
        drift.length === 0
          ? `no applied migration changed${pending ? ` (${pending} newer ones will be applied at start)` : ""}`
          : `migrations ${drift.map((d) => `${d.name} ${d.state}`).join(", ")}`,
    },
  ];
  const report = await doctor(engine, { engineName: label, runtimeRole: APP_ROLE });
  for (const check of report.checks) checks.push({ name: `doctor: ${check.name}`, ok: check.ok, detail: check.detail });
  return checks;
}

export interface OpenedBackup {
  report: VerifyReport;
  signed: SignedManifest | undefined;
  /** The opened snapshot, when every check before opening passed (the caller closes it). */
  engine: Engine | undefined;
}

/**
 * Checks a backup and, when its signature, hash and key hold, decrypts it and opens it, compared with its
 * manifest: a PGlite database in `into` (a data dir that must not hold one), or a PostgreSQL one the loader
 * restores into. The decrypted scratch file is removed.
 */
export async function openBackup(ref: string, deps: VerifyDeps, into: string | SnapshotLoader): Promise<OpenedBackup> {
  const started = performance.now();
  const checks: VerifyCheck[] = [];
  const report = (manifest: string, id: string | undefined): VerifyReport => {
    const problems = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    return {
      ok: problems.length === 0,
      id,
      manifest,
      key_source: deps.keySource,
      checks,
      problems,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  };
  const manifestPath = locateManifest(deps.dir, ref);
  let signed: SignedManifest;
  try {
    signed = readManifest(manifestPath);
  } catch (error) {
    checks.push({ name: "manifest", ok: false, detail: (error as Error).message });
    return { report: report(manifestPath, undefined), signed: undefined, engine: undefined };
  }
  const m = signed.manifest;
  const stop = () => ({ report: report(manifestPath, m.id), signed, engine: undefined });
  const sig = await signatureProblems(signed, deps.keys);
  checks.push({
    name: "manifest signature",
    ok: sig.length === 0,
    detail: sig[0] ?? `signed by key ${signed.signature.key_id}`,
  });
  if (sig.length > 0) return stop();
  const engine = typeof into === "string" ? "pglite" : into.engine;
  if (m.engine !== engine) {
    checks.push({
      name: "engine",
      ok: false,
      detail: `backup ${m.id} was taken on ${m.engine === "pglite" ? "the embedded engine" : "PostgreSQL"}: verify and restore it with ${m.engine === "pglite" ? "--data-dir / --to-data-dir" : "DATABASE_OWNER_URL / --to-database-url"}`,
    });
    return stop();
  }
  const dataFile = dataFileOf(manifestPath, signed);
  if (!existsSync(dataFile)) {
    checks.push({ name: "encrypted file", ok: false, detail: `missing backup file: ${dataFile} does not exist` });
    return stop();
  }
  const hashed = await hashFile(dataFile);
  const hashOk = hashed.sha256 === m.sha256 && hashed.bytes === m.sizes.encrypted_bytes;
  checks.push({
    name: "encrypted file",
    ok: hashOk,
    detail: hashOk
      ? `sha256 ${m.sha256.slice(0, 16)}..., ${hashed.bytes} bytes`
      : `tampered file: its sha256 (${hashed.sha256.slice(0, 16)}..., ${hashed.bytes} bytes) differs from the manifest's (${m.sha256.slice(0, 16)}..., ${m.sizes.encrypted_bytes} bytes)`,
  });
  if (!hashOk) return stop();
  // After a master-key rotation dropped the manifest's version, the signed re-wrapping beside it (rekey.ts).
  const wrapping = await backupDataKey(dirname(manifestPath), signed, deps.kek, deps.keys);
  if ("problem" in wrapping) {
    checks.push({ name: "data key", ok: false, detail: wrapping.problem });
    return stop();
  }
  let key: Uint8Array<ArrayBuffer>;
  try {
    key = await deps.kek.unwrap(wrapping.wrapped, wrapping.kek_version, m.key.aad);
  } catch {
    checks.push({
      name: "data key",
      ok: false,
      detail: `wrong key: the master key ring (${deps.kek.versions.map((v) => `v${v}`).join(", ")}) does not open this backup's data key (wrapped under v${wrapping.kek_version})`,
    });
    return stop();
  }
  checks.push({
    name: "data key",
    ok: true,
    detail: `unwrapped with master key v${wrapping.kek_version} (wrapping from ${wrapping.source})`,
  });
  ensureBackupDir(deps.dir);
  const scratch = mkdtempSync(join(deps.dir, `.scratch-${process.pid}-`));
  const tarball = join(scratch, typeof into === "string" ? "snapshot.tar.gz" : "snapshot.dump");
  try {
    try {
      await decryptFile(dataFile, tarball, key, Buffer.from(m.cipher.nonce, "base64url"), m.cipher.aad);
      checks.push({ name: "decryption", ok: true, detail: `${m.sizes.snapshot_bytes} bytes, authenticated` });
    } catch (error) {
      checks.push({ name: "decryption", ok: false, detail: (error as Error).message });
      return stop();
    } finally {
      key.fill(0);
    }
    let engine: Engine;
    try {
      engine = typeof into === "string" ? await loadPglite(into, tarball) : await into.load(tarball, m);
    } catch (error) {
      checks.push({
        name: "open snapshot",
        ok: false,
        detail: `the snapshot does not open: ${(error as Error).message}`,
      });
      return stop();
    }
    try {
      checks.push(...compareFacts(m, await snapshotFacts(engine)));
      checks.push(...(await databaseChecks(engine, typeof into === "string" ? "backup (scratch PGlite)" : into.label)));
    } catch (error) {
      await engine.close().catch(() => {});
      checks.push({
        name: "open snapshot",
        ok: false,
        detail: `reading the snapshot failed: ${(error as Error).message}`,
      });
      return stop();
    }
    return { report: report(manifestPath, m.id), signed, engine };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function loadPglite(dataDir: string, tarball: string): Promise<Engine> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return openPglite(dataDir, { loadDataDir: Bun.file(tarball), template: null });
}

/** Verifies a backup on a scratch copy, then deletes the copy. */
export async function verifyBackup(ref: string, deps: VerifyDeps): Promise<VerifyReport> {
  if (deps.postgres) return verifyOnScratchDatabase(ref, { ...deps, postgres: deps.postgres });
  ensureBackupDir(deps.dir);
  removeLeftovers(deps.dir); // a killed verify's decrypted scratch copy among them
  const scratch = mkdtempSync(join(deps.dir, `.scratch-${process.pid}-`));
  try {
    const opened = await openBackup(ref, deps, join(scratch, "db"));
    await opened.engine?.close();
    return opened.report;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** PostgreSQL: the scratch copy is a temporary database on the owner connection's server, always dropped. */
async function verifyOnScratchDatabase(
  ref: string,
  deps: VerifyDeps & { postgres: PostgresTarget },
): Promise<VerifyReport> {
  ensureBackupDir(deps.dir);
  removeLeftovers(deps.dir);
  const scratch = await createScratchDatabase(deps.postgres);
  try {
    const opened = await openBackup(ref, deps, scratch.loader);
    await opened.engine?.close();
    return opened.report;
  } finally {
    await scratch.drop();
  }
}
