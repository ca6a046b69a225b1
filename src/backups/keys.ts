// The keys a backup needs outside the live database (restore, and verify from the command line): the master
// key ring and the audit key's public half, read from where the installation keeps them and never generated:
// a backup opens only with the ring it was made under.
import { existingSigner } from "../audit/signing.ts";
import type { Config } from "../config.ts";
import { loadKeyRing, type LocalKeyRing } from "../secrets/keyring.ts";
import { importHmacKey, RTBF_KEY_FILE } from "../governance/rtbf.ts";
import { loadServerKey } from "../secrets/server-keys.ts";
import type { Jwks } from "./manifest.ts";

export function installedKeyRing(config: Pick<Config, "dataDir">, env = process.env): LocalKeyRing {
  return loadKeyRing({
    env,
    dataDir: config.dataDir,
    embedded: true,
    mustExist: "a backup opens only with the master key ring it was made under",
  });
}

/** The keys to check a manifest's signature with: the given JWKS, else the installation's audit key. */
export async function manifestKeys(
  config: Pick<Config, "dataDir">,
  jwks: Jwks | undefined,
  env = process.env,
): Promise<{ keys: Jwks["keys"]; keySource: string }> {
  if (jwks) return { keys: jwks.keys, keySource: "the JWKS given" };
  const signer = await existingSigner({ env, dataDir: config.dataDir });
  return { keys: [signer.publicJwk], keySource: "the installation's audit key" };
}

/**
 * The subject-ref key an erasure replay finds people with (the installation's rtbf.key or its variable),
 * read when the ledger has an erasure to replay; never generated (a new key would find nobody).
 */
export function installedRtbfKey(
  config: Pick<Config, "dataDir" | "engine">,
  env = process.env,
): () => Promise<CryptoKey> {
  const source = { env, dataDir: config.dataDir, embedded: config.engine === "pglite" };
  let key: Promise<CryptoKey> | undefined;
  return () => {
    key ??= Promise.resolve().then(() =>
      importHmacKey(loadServerKey(source, "CAUSELOOP_RTBF_KEY", RTBF_KEY_FILE, undefined)),
    );
    return key;
  };
}
