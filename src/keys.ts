// Every server key but the master key, loaded in one place, one purpose each: the audit signing key
// (checkpoints, erasure certificates), the access-token secret, the RTBF subject-ref key and the export-link
// key. Each comes from its variable, its *_FILE variable, or its file in the data dir (generated when absent,
// unless the database already holds what a lost key made: then start-up refuses, naming the file).
import type { Config } from "./config.ts";
import type { Queryable } from "./db/engine.ts";
import { AUDIT_SIGNING_KEY_FILE, loadSigner, type Signer } from "./audit/signing.ts";
import { loadJwtKeys, type JwtKeys } from "./identity/jwt.ts";
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
export async function keySource(config: Config, engine: Queryable): Promise<ServerKeySource> {
  return {
    env: process.env,
    dataDir: config.dataDir,
    embedded: config.engine === "pglite",
    dependents: await keyDependents(engine),
  };
}

/** Every key `serve` needs. */
export async function loadServerKeys(config: Config, engine: Queryable): Promise<ServerKeys> {
  const source = await keySource(config, engine);
  const signer = await loadSigner(source);
  return {
    signer,
    jwt: loadJwtKeys(source),
    rtbf: await loadRtbfKeys(source, signer),
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
  return { signer, rtbf: await loadRtbfKeys(source, signer), exportLinkKey: loadExportLinkKey(source) };
}
