// Every server key but the master key, loaded in one place, one purpose each: the audit signing key
// (checkpoints, erasure certificates), the access-token secret, the RTBF subject-ref key and the export-link
// key. Each comes from its variable, its *_FILE variable, or its file in the data dir (generated when absent,
// unless the database already holds what a lost key made: then start-up refuses, naming the file).
import { accessSync, constants, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "./config.ts";
import type { Queryable } from "./db/engine.ts";
import { AUDIT_SIGNING_KEY_FILE, loadSigner, type Signer } from "./audit/signing.ts";
import { loadJwtKeys, type JwtKeys } from "./identity/jwt.ts";
import { erasureLedger } from "./backups/ledger.ts";
import { offsiteFor } from "./backups/offsite.ts";
import { loadRtbfKeys, RTBF_KEY_FILE, type RtbfKeys } from "./governance/rtbf.ts";
import { loadExportLinkKey } from "./governance/export-links.ts";
import type { ServerKeySource } from "./secrets/server-keys.ts";

export interface ServerKeys {
  signer: Signer;
  jwt: JwtKeys;
  rtbf: RtbfKeys;
  exportLinkKey: Uint8Array;
}

/** What in the database depends on each key file (see ServerKeySource.dependents). */
export async function keyDependents(engine: Queryable): Promise<Record<string, string | undefined>> {
  const [row] = await engine.query<{ signed_checkpoints: boolean; subject_refs: boolean }>(
    "select * from server_key_dependents()",
  );
  return {
    [AUDIT_SIGNING_KEY_FILE]: row?.signed_checkpoints ? "signed audit checkpoints" : undefined,
    [RTBF_KEY_FILE]: row?.subject_refs ? "erasure requests whose subject refs were" : undefined,
  };
}

/** Where the keys come from for this configuration, with what the database holds that depends on them. */
export async function keySource(
  config: Config,
  engine: Queryable,
  env: Record<string, string | undefined> = process.env,
): Promise<ServerKeySource> {
  return {
    env,
    dataDir: config.dataDir,
    embedded: config.engine === "pglite",
    dependents: await keyDependents(engine),
  };
}

/** The erasure ledger in the backup directory (and its off-machine copy), signed with the audit key. */
const installationLedger = (config: Config, signer: Signer) =>
  erasureLedger(config.backupDir, signer, offsiteFor(config));

/** Every key `serve` needs. */
export async function loadServerKeys(
  config: Config,
  engine: Queryable,
  env: Record<string, string | undefined> = process.env,
): Promise<ServerKeys> {
  const source = await keySource(config, engine, env);
  const signer = await loadSigner(source);
  return {
    signer,
    jwt: loadJwtKeys(source),
    rtbf: { ...(await loadRtbfKeys(source, signer)), ledger: installationLedger(config, signer) },
    exportLinkKey: loadExportLinkKey(source),
  };
}

/**
 * Only the keys an erasure needs (certificate signer, subject-ref key, export-link key for the archive store):
 * an operator command loads no key it does not use, so it neither generates key files it has no use for nor
 * fails over a missing one it would never read.
 */
export async function loadErasureKeys(config: Config, engine: Queryable): Promise<Omit<ServerKeys, "jwt">> {
  const source = await keySource(config, engine);
  const signer = await loadSigner(source);
  return {
    signer,
    rtbf: { ...(await loadRtbfKeys(source, signer)), ledger: installationLedger(config, signer) },
    exportLinkKey: loadExportLinkKey(source),
  };
}

/** Every server key: its variable and its file in the data dir. */
const SERVER_KEYS = [
  { label: "audit signing key", variable: "CAUSELOOP_AUDIT_SIGNING_KEY", file: AUDIT_SIGNING_KEY_FILE },
  { label: "access-token secret", variable: "CAUSELOOP_JWT_SECRET", file: "jwt.secret" },
  { label: "RTBF subject-ref key", variable: "CAUSELOOP_RTBF_KEY", file: RTBF_KEY_FILE },
  { label: "export-link key", variable: "CAUSELOOP_EXPORT_LINK_KEY", file: "export-link.key" },
] as const;

/** The server keys' file names in the state directory. */
export const SERVER_KEY_FILES: string[] = SERVER_KEYS.map((k) => k.file);

/**
 * What `serve` needs besides the database, checked without creating anything, so a green doctor means serve
 * starts: the state directory (writable), each server key (set, on file, or to be generated there, which a
 * key with dependents in the database must never be), and the master key ring (it must open this database's
 * data keys).
 */
export async function servePrerequisites(
  config: Config,
  engine: Queryable,
  masterKey: () => Promise<unknown>,
): Promise<{ name: string; ok: boolean; detail: string }[]> {
  const checks: { name: string; ok: boolean; detail: string }[] = [];
  const dir = config.dataDir;
  const writable = (() => {
    try {
      let probe = dir;
      while (!existsSync(probe)) probe = dirname(probe);
      accessSync(probe, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();
  checks.push({
    name: "state directory",
    ok: writable,
    detail: writable
      ? `${dir}${existsSync(dir) ? "" : " (created at first start)"}${config.dataDirExplicit ? "" : " (the default under $HOME: set CAUSELOOP_DATA_DIR)"}`
      : `${dir} is not writable by this user: keys, exports and the anchor file go there (CAUSELOOP_DATA_DIR)`,
  });
  // A database not migrated yet holds nothing made with a key (the migrations check says what is pending).
  const dependents = await keyDependents(engine).catch(() => ({}) as Record<string, string | undefined>);
  for (const key of SERVER_KEYS) {
    const path = join(dir, key.file);
    const fromEnv = process.env[key.variable]
      ? key.variable
      : process.env[`${key.variable}_FILE`]
        ? `${key.variable}_FILE`
        : undefined;
    if (fromEnv) {
      const file = process.env[`${key.variable}_FILE`];
      const readable = !file || existsSync(file);
      checks.push({
        name: key.label,
        ok: readable,
        detail: readable ? `from ${fromEnv}` : `${fromEnv} ${file} does not exist`,
      });
    } else if (existsSync(path)) checks.push({ name: key.label, ok: true, detail: path });
    else if (dependents[key.file])
      checks.push({
        name: key.label,
        ok: false,
        detail: `${path} is missing, but ${dependents[key.file]} made with it exist: restore it (or set ${key.variable})`,
      });
    else checks.push({ name: key.label, ok: writable, detail: `${path} (generated at first start)` });
  }
  try {
    await masterKey();
    checks.push({ name: "master key", ok: true, detail: "opens this database's data keys" });
  } catch (error) {
    checks.push({ name: "master key", ok: false, detail: (error as Error).message });
  }
  return checks;
}
