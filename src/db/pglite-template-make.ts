// Making the embedded database template (see pglite-template.ts), at build time: scripts/pglite-template.ts.
import { join } from "node:path";
import { openPglite } from "./engine.ts";
import type { MigrationSource } from "../../db/migrations/index.ts";
import { migrate } from "./migrate.ts";
import { packTemplate } from "./pglite-template.ts";
import { setupAppRole } from "./system.ts";

/**
 * Makes the template at build time: a new PGlite database in dataDir, migrated (all embedded migrations, or
 * the given ones) with the runtime role set up, compacted for a fast unpack, shut down cleanly and packed.
 * Returns the packed size in bytes.
 */
export async function makeTemplate(
  dataDir: string,
  outfile: string,
  options: { sources?: MigrationSource[]; actor?: string } = {},
): Promise<number> {
  const engine = await openPglite(dataDir, { template: null });
  try {
    if ((await migrate(engine, options)).applied.length > 0) await setupAppRole(engine, { actor: options.actor });
    // Smaller is faster to unpack (writing the files is most of a first start). The embedded database is one
    // database, postgres: the template databases, copied only by CREATE DATABASE, which nothing does on it,
    // go (7 MiB each), and VACUUM FULL compacts what a hundred DDL statements left in the catalogs (11 -> 9 MiB).
    for (const name of ["template0", "template1"]) {
      await engine.exec(`ALTER DATABASE ${name} IS_TEMPLATE false`);
      await engine.exec(`DROP DATABASE ${name}`);
    }
    await engine.exec("VACUUM FULL");
    // The WAL written by initdb and the migrations is not needed after a checkpoint: switch to a new segment
    // and let the checkpoint remove (not recycle) the old one, so the template's WAL is nearly all zeros.
    await engine.exec("SET wal_recycle = off");
    await engine.query("SELECT pg_switch_wal()");
    await engine.exec("CHECKPOINT");
    await engine.exec("CHECKPOINT");
  } finally {
    await engine.close();
  }
  return packTemplate(join(dataDir, "pgdata"), outfile);
}
