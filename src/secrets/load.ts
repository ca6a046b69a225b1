// Opening the key ring for a process that has a database: refuses to invent a new master key for a database
// that already holds data keys, and checks the ring against the database before anything is served.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { loadKeyRing, MASTER_KEY_FILE, type LocalKeyRing } from "./keyring.ts";
import { verifyKekMatches } from "./rotation.ts";

export async function openKeyRing(
  config: Config,
  engine: Engine,
  env: Record<string, string | undefined> = process.env,
): Promise<LocalKeyRing> {
  const embedded = config.engine === "pglite";
  const configured = Boolean(env.CAUSELOOP_MASTER_KEY || env.CAUSELOOP_MASTER_KEY_FILE);
  if (embedded && !configured && !existsSync(join(config.dataDir, MASTER_KEY_FILE))) {
    const [row] = await engine.query<{ n: number }>("select count(*)::int as n from kek_probe()");
    if ((row?.n ?? 0) > 0) {
      throw new AppError(
        "config_invalid",
        `${join(config.dataDir, MASTER_KEY_FILE)} is missing but the database holds encrypted data keys: restore it from your backup or set CAUSELOOP_MASTER_KEY`,
      );
    }
  }
  const ring = loadKeyRing({ env, dataDir: config.dataDir, embedded });
  await verifyKekMatches(engine, ring);
  return ring;
}
