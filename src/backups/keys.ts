// The keys a backup needs outside the live database (restore, and verify from the command line): the master
// key ring and the audit key's public half, read from where the installation keeps them and never generated:
// a backup opens only with the ring it was made under.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { existingSigner } from "../audit/signing.ts";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { LocalKeyRing, loadKeyRing, MASTER_KEY_FILE } from "../secrets/keyring.ts";
import type { Jwks } from "./manifest.ts";

export function installedKeyRing(config: Pick<Config, "dataDir">, env = process.env): LocalKeyRing {
  if (env.CAUSELOOP_MASTER_KEY || env.CAUSELOOP_MASTER_KEY_FILE)
    return loadKeyRing({ env, dataDir: config.dataDir, embedded: false });
  const path = join(config.dataDir, MASTER_KEY_FILE);
  if (!existsSync(path))
    throw new AppError(
      "config_invalid",
      `no master key: ${path} does not exist and neither CAUSELOOP_MASTER_KEY nor CAUSELOOP_MASTER_KEY_FILE is set (a backup opens only with the master key ring it was made under)`,
    );
  return new LocalKeyRing(readFileSync(path, "utf8"), path);
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
