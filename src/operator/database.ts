// Opening the database for each face: `serve` (the runtime role) and operator commands (the owner).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";
import type { Config } from "../config.ts";
import { openPglite, openPostgres, type Engine } from "../db/engine.ts";
import { acquireDataDirLock, type DataDirLock } from "../db/lock.ts";
import { migrate, schemaIsCurrent } from "../db/migrate.ts";
import { checkRole, setupAppRole } from "../db/system.ts";
import type { Logger } from "../log.ts";
import { vacuumFull, type MaintenanceConnection } from "../governance/vacuum.ts";

export interface OpenDatabase {
  engine: Engine;
  /**
   * PostgreSQL: connections of their own (two) for statements a request waits for while it holds one of the
   * pool's, the shared rate limiter's reservations. Taken from the pool, they could wait for the very
   * connections held by the requests waiting for them: a burst of as many requests as the pool has connections
   * would stall every one of them until the acquire timeout. Absent on PGlite (its limiter keeps no store).
   */
  side?: Engine;
  close(): Promise<void>;
}

function closer(engine: Engine, lock?: DataDirLock, side?: Engine): () => Promise<void> {
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    try {
      await side?.close().catch(() => {});
      await engine.close();
    } finally {
      lock?.release();
    }
  };
}

/**
 * PGlite: applies pending migrations and, when that applied something, sets up the runtime role's grants
 * and policies (they change only with the schema; at every start they would also silently undo a change
 * that doctor should report).
 */
export async function migrateEmbedded(engine: Engine, actor?: string): Promise<void> {
  if ((await migrate(engine, { actor })).applied.length > 0) await setupAppRole(engine, { actor });
}

/** PGlite: lock the data dir, open, bring the schema and the runtime role up to date. */
export async function openEmbedded(
  config: Config,
  kind: "serve" | "command",
  options: { migrate: boolean },
): Promise<OpenDatabase> {
  // A new embedded database in the default place is said out loud: it is often a missing DATABASE_URL.
  if (!config.dataDirExplicit && !existsSync(join(config.dataDir, "pgdata")))
    process.stderr.write(
      `causeloop: note: no DATABASE_URL or DATABASE_OWNER_URL, so a new embedded database is created in ${config.dataDir} (choose the place with --data-dir or CAUSELOOP_DATA_DIR)\n`,
    );
  const lock = await acquireDataDirLock(config.dataDir, kind, kind === "serve" ? 0 : config.lockWaitMs);
  let engine: Engine | undefined;
  try {
    engine = await openPglite(config.dataDir);
    if (options.migrate) await migrateEmbedded(engine);
    return { engine, close: closer(engine, lock) };
  } catch (error) {
    await engine?.close().catch(() => {});
    lock.release();
    throw error;
  }
}

/** `serve`: the runtime connection. On PostgreSQL refuses a superuser/BYPASSRLS role and a schema behind the binary. */
export async function openForServe(config: Config, logger: Logger): Promise<OpenDatabase> {
  if (config.engine === "pglite") return openEmbedded(config, "serve", { migrate: true });
  const url = config.databaseUrl;
  if (!url)
    throw new AppError(
      "config_invalid",
      "DATABASE_URL is not set (only DATABASE_OWNER_URL is): serve connects as the runtime role; run 'causeloop setup' to create it and write its DATABASE_URL",
    );
  if (config.migrateOnStart) {
    const owner = await openOwner(config);
    try {
      const result = await migrate(owner);
      logger.info("migrate.done", { applied: result.applied.map((a) => a.name) });
    } finally {
      await owner.close();
    }
  }
  const timeouts = {
    connectTimeoutMs: config.dbConnectTimeoutMs,
    acquireTimeoutMs: config.dbAcquireTimeoutMs,
    prepare: config.dbPrepare,
  };
  const engine = await openPostgres(url, config.poolSize, "causeloop-serve", timeouts);
  try {
    const role = await checkRole(engine, "current_user");
    if (!role.ok) {
      if (!config.insecureAllowBypassRls) {
        throw new AppError(
          "insecure_role",
          `refusing to serve: ${role.problems.join("; ")}, so row-level security would be silently ignored. Connect DATABASE_URL as the runtime role instead: run 'causeloop roles setup' with DATABASE_OWNER_URL set, then use causeloop_app in DATABASE_URL (--insecure-allow-bypass-rls exists for local debugging only)`,
        );
      }
      logger.warn("security.insecure_role", {
        detail: `${role.problems.join("; ")}: tenant isolation is NOT enforced (--insecure-allow-bypass-rls)`,
      });
    }
    const schema = await schemaIsCurrent(engine);
    if (!schema.current) {
      const why = [...schema.problems, ...schema.pending.map((p) => `${p} pending`)].join(", ");
      throw new AppError(
        "schema_behind",
        `the database schema is behind this binary (${why}); run 'causeloop migrate' with DATABASE_OWNER_URL set, or start with --migrate`,
      );
    }
    const side = await openPostgres(url, 2, "causeloop-serve-side", timeouts);
    return { engine, side, close: closer(engine, undefined, side) };
  } catch (error) {
    await engine.close().catch(() => {});
    throw error;
  }
}

/** The owner connection on PostgreSQL (DATABASE_OWNER_URL). */
export async function openOwner(config: Config): Promise<Engine> {
  if (!config.databaseOwnerUrl) {
    throw new AppError(
      "config_invalid",
      "DATABASE_OWNER_URL is not set: migrations, role setup and onboarding need the owner connection on PostgreSQL",
    );
  }
  return openPostgres(config.databaseOwnerUrl, 2, "causeloop-operator");
}

/**
 * serve's connection for work the runtime role may not do (VACUUM after an erasure, the isolation
 * attestation's live probe): PGlite's one connection; on PostgreSQL the owner connection, opened for each
 * use, when DATABASE_OWNER_URL is set.
 */
export function maintenanceConnection(config: Config, engine: Engine): MaintenanceConnection | undefined {
  const full = vacuumFull(config.rtbfVacuum, config.engine);
  if (config.engine === "pglite") return { full, run: (fn) => fn(engine) };
  if (!config.databaseOwnerUrl) return undefined;
  return {
    full,
    run: async (fn) => {
      const owner = await openOwner(config);
      try {
        return await fn(owner);
      } finally {
        await owner.close();
      }
    },
  };
}
