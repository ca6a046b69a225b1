// Operator operations: the one implementation behind the CLI, the TUI and the control socket. Each names the
// connection it needs; on a PGlite data dir held by `serve` they run inside the server through its socket.
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { migrate, migrationStatus, assertNoDrift } from "../db/migrate.ts";
import { checkRole, doctor, setupAppRole } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { openPostgres } from "../db/engine.ts";
import { openEmbedded, openOwner } from "./database.ts";
import { seedDemo } from "../tenancy/demo.ts";
import { addWorkspace, listTenants, offboard, offboardingRecords, onboard, restore, type OnboardInput } from "../tenancy/service.ts";
import { controlRequest, serveIsRunning } from "./control.ts";

export interface OperationContext {
  /** Owner-level connection (PGlite: the one connection; PostgreSQL: DATABASE_OWNER_URL or DATABASE_URL per need). */
  engine: Engine;
  config: Config;
}

type Args = Record<string, unknown>;

interface Operation {
  /** owner: DDL and role management; runtime: read-only checks through DATABASE_URL on PostgreSQL. */
  needs: "owner" | "runtime";
  /** Embedded mode: bring the schema up to date first (commands that write tenant data). */
  migrateFirst?: boolean;
  run(ctx: OperationContext, args: Args): Promise<unknown>;
}

export const operations = {
  migrate: {
    needs: "owner",
    run: async ({ engine }) => {
      const result = await migrate(engine);
      return { ...result, status: await migrationStatus(engine) };
    },
  },
  "migrate.status": {
    needs: "owner",
    run: async ({ engine }) => {
      const status = await migrationStatus(engine);
      let error: string | undefined;
      try {
        assertNoDrift(status);
      } catch (e) {
        error = (e as Error).message;
      }
      return { migrations: status, pending: status.filter((s) => s.state === "pending").length, error };
    },
  },
  doctor: {
    needs: "runtime",
    run: ({ engine }) =>
      doctor(engine, {
        engineName: engine.kind === "pglite" ? "PGlite (embedded)" : `PostgreSQL ${engine.info.host}/${engine.info.database}`,
        runtimeRole: engine.switchRoleInTransactions ? APP_ROLE : "current_user",
      }),
  },
  "roles.setup": {
    needs: "owner",
    run: ({ engine }, args) => setupAppRole(engine, { password: args.password as string | undefined, rotate: Boolean(args.rotate) }),
  },
  "roles.check": {
    needs: "owner",
    run: ({ engine }) => checkRole(engine, APP_ROLE),
  },
  onboard: {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }, args) => onboard(engine, args as unknown as OnboardInput),
  },
  "workspace.add": {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }, args) => addWorkspace(engine, String(args.org), String(args.workspace), args.name as string | undefined, args.actor as string | undefined),
  },
  offboard: {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }, args) => offboard(engine, String(args.slug), args.mode as "soft" | "purge", args.actor as string | undefined),
  },
  "tenants.restore": {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }, args) => restore(engine, String(args.slug), args.actor as string | undefined),
  },
  "tenants.list": {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }) => listTenants(engine),
  },
  "tenants.offboardings": {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }, args) => offboardingRecords(engine, args.slug as string | undefined),
  },
  "demo.seed": {
    needs: "owner",
    migrateFirst: true,
    run: ({ engine }) => seedDemo(engine),
  },
} satisfies Record<string, Operation>;

export type OperationName = keyof typeof operations;

export function isOperationName(name: string): name is OperationName {
  return Object.hasOwn(operations, name);
}

/** Runs an operation inside an already-open server (the control socket's side). */
export function runInProcess(name: OperationName, ctx: OperationContext, args: Args): Promise<unknown> {
  const op: Operation = operations[name];
  return op.run(ctx, args);
}

/** Runs an operation from a CLI or TUI process: through a running server's socket, or on its own connection. */
export async function runOperation(config: Config, name: OperationName, args: Args = {}): Promise<unknown> {
  const op: Operation = operations[name];
  if (config.engine === "pglite") {
    if (serveIsRunning(config.dataDir)) return controlRequest(config.dataDir, name, args);
    const db = await openEmbedded(config, "command", { migrate: op.migrateFirst ?? false });
    try {
      return await op.run({ engine: db.engine, config }, args);
    } finally {
      await db.close();
    }
  }
  const engine =
    op.needs === "owner"
      ? await openOwner(config)
      : config.databaseUrl
        ? await openPostgres(config.databaseUrl, 2, "causeloop-operator")
        : (() => {
            throw new AppError("config_invalid", "DATABASE_URL is not set");
          })();
  try {
    return await op.run({ engine, config }, args);
  } finally {
    await engine.close();
  }
}
