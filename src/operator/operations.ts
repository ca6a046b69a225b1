// Operator operations: the one implementation behind the CLI, the TUI and the control socket. Each names the
// connection it needs; on a PGlite data dir held by `serve` they run inside the server through its socket.
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { migrate, migrationStatus, assertNoDrift } from "../db/migrate.ts";
import { checkRole, doctor, setupAppRole } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { openPostgres } from "../db/engine.ts";
import { migrateEmbedded, openEmbedded, openOwner } from "./database.ts";
import { seedDemo } from "../tenancy/demo.ts";
import { runRetention } from "../governance/retention.ts";
import { archiveStore } from "../governance/storage.ts";
import { exportLinks } from "../governance/export-links.ts";
import { loadServerKeys, type ServerKeys } from "../keys.ts";
import { approve, getRequest, transition } from "../governance/rtbf.ts";
import { vacuumFull, vacuumPendingErasures } from "../governance/vacuum.ts";
import { jobStatuses, lastRuns, Scheduler } from "../jobs/scheduler.ts";
import { scheduledJobs } from "../jobs/registry.ts";
import { silentLogger } from "../log.ts";
import { withTenant } from "../db/tenant.ts";
import type { Signer } from "../audit/signing.ts";
import { createCheckpoint, verifyWorkspace } from "../audit/trail.ts";
import { exportAudit } from "../audit/export.ts";
import { appendOperatorLog, checkpointOperatorLog, listOperatorLog, OPERATOR_STREAM, operatorIdentity, verifyOperatorLog, type OperatorEntry } from "../audit/operator-log.ts";
import { openKeyRing } from "../secrets/load.ts";
import type { LocalKeyRing } from "../secrets/keyring.ts";
import { keyStatus, rotateDek, rotateKek } from "../secrets/rotation.ts";
import { addWorkspace, listTenants, offboard, offboardingRecords, onboard, restore, type OnboardInput } from "../tenancy/service.ts";
import { controlRequest, serveIsRunning } from "./control.ts";

export interface OperationContext {
  /** Owner-level connection (PGlite: the one connection; PostgreSQL: DATABASE_OWNER_URL or DATABASE_URL per need). */
  engine: Engine;
  config: Config;
  /** The master key ring, loaded on first use (and checked against the database). */
  kek: () => Promise<LocalKeyRing>;
  /** The audit signing key, loaded on first use. */
  signer: () => Promise<Signer>;
  /** The running server's scheduler (inside `serve`), else one built for this command. */
  scheduler?: () => Scheduler;
}

type Args = Record<string, unknown>;

interface Operation {
  /** owner: DDL and role management; runtime: read-only checks through DATABASE_URL on PostgreSQL. */
  needs: "owner" | "runtime";
  /** Embedded mode: bring the schema up to date first (commands that write tenant data). */
  migrateFirst?: boolean;
  run(ctx: OperationContext, args: Args, progress?: (done: number, total: number) => void): Promise<unknown>;
}

export const operations = {
  migrate: {
    needs: "owner",
    run: async ({ engine }, args) => {
      const result = await migrate(engine, { actor: args.actor as string | undefined });
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
    run: ({ engine }, args) => setupAppRole(engine, { password: args.password as string | undefined, rotate: Boolean(args.rotate), actor: args.actor as string | undefined }),
  },
  "roles.check": {
    needs: "owner",
    run: ({ engine }) => checkRole(engine, APP_ROLE),
  },
  onboard: {
    needs: "owner",
    migrateFirst: true,
    run: async ({ engine, kek }, args) => onboard(engine, args as unknown as OnboardInput, await kek()),
  },
  "workspace.add": {
    needs: "owner",
    migrateFirst: true,
    run: async ({ engine, kek }, args) => addWorkspace(engine, String(args.org), String(args.workspace), args.name as string | undefined, args.actor as string | undefined, await kek()),
  },
  offboard: {
    needs: "owner",
    migrateFirst: true,
    run: async ({ engine, kek }, args) => {
      const record = await offboard(engine, String(args.slug), args.mode as "soft" | "purge", args.actor as string | undefined);
      if (args.mode !== "purge" || record.already_purged) return record;
      // Crypto-shredding reaches backups too: with a file-based ring, every remaining data key is re-wrapped
      // under a new master key version and the old version is dropped, so a copy taken before the purge no
      // longer opens with the current key ring.
      const ring = await kek().catch(() => undefined);
      if (!ring?.file) return { ...record, kek_rotated: false };
      const rotation = await rotateKek(engine, ring, { generate: true, actor: args.actor as string | undefined });
      await logKekRotation(engine, String(args.actor), rotation, { generated: true, reason: `purge of ${String(args.slug)}` });
      return { ...record, kek_rotated: true, kek_current_version: rotation.kekCurrentVersion };
    },
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
  "keys.status": {
    needs: "owner",
    run: async ({ engine, kek }) => keyStatus(engine, await kek()),
  },
  "keys.rotate-kek": {
    needs: "owner",
    run: async ({ engine, kek }, args, progress) => {
      const result = await rotateKek(engine, await kek(), { generate: Boolean(args.generate), onProgress: progress, actor: args.actor as string | undefined });
      await logKekRotation(engine, String(args.actor), result, { generated: Boolean(args.generate) });
      return result;
    },
  },
  "keys.rotate-dek": {
    needs: "owner",
    run: async ({ engine, kek }, args, progress) => rotateDek(engine, await kek(), String(args.workspace), { actor: args.actor as string | undefined, onProgress: progress }),
  },
  "audit.verify": {
    needs: "owner",
    run: async ({ engine, signer }, args) => {
      const key = await signer();
      const ids = args.workspace ? [String(args.workspace)] : (await engine.query<{ id: string }>("select id from workspaces order by id")).map((w) => w.id);
      const results = [];
      for (const id of ids) {
        const exists = await engine.query("select 1 from workspaces where id = $1", [id]);
        if (!exists[0]) throw new AppError("not_found", `workspace ${id} not found`);
        results.push(await withTenant(engine, id, (tx) => verifyWorkspace(tx, id, key)));
      }
      // The operator log is verified with every workspace (not when one workspace is asked for).
      const operatorLog = args.workspace ? undefined : await verifyOperatorLog(engine, key);
      return { ok: results.every((r) => r.ok) && (operatorLog?.ok ?? true), workspaces: results, operator_log: operatorLog };
    },
  },
  "audit.checkpoint": {
    needs: "owner",
    run: async ({ engine, signer }, args) => {
      const key = await signer();
      const ids = args.workspace ? [String(args.workspace)] : (await engine.query<{ id: string }>("select id from workspaces order by id")).map((w) => w.id);
      const made = [];
      for (const id of ids) {
        const cp = await withTenant(engine, id, (tx) => createCheckpoint(tx, id, key));
        if (cp) made.push({ workspace_id: id, seq: cp.seq });
      }
      if (!args.workspace) {
        const cp = await checkpointOperatorLog(engine, key);
        if (cp) made.push({ workspace_id: OPERATOR_STREAM, seq: cp.seq });
      }
      return { created: made };
    },
  },
  "audit.export": {
    needs: "owner",
    run: async ({ engine, signer }, args) => exportAudit(engine, await signer(), String(args.workspace), String(args.out)),
  },
  "retention.run": {
    needs: "owner",
    run: ({ engine }, args) => runRetention(engine, { workspace: args.workspace as string | undefined, dryRun: Boolean(args.dryRun), actor: args.actor as string | undefined }),
  },
  "jobs.list": {
    needs: "owner",
    run: async (ctx) => ({ jobs: await jobStatuses(ctx.engine, ctx.scheduler?.().jobs ?? (await jobsFor(ctx))), recent: await lastRuns(ctx.engine, 20) }),
  },
  "jobs.run": {
    needs: "owner",
    run: async (ctx, args) => {
      const s = ctx.scheduler?.() ?? new Scheduler(ctx.engine, await jobsFor(ctx), silentLogger);
      const run = await s.runNow(String(args.name));
      await logged(ctx.engine, { action: "job.run", actor: String(args.actor), targetType: "job", targetId: String(args.name), after: { outcome: run?.outcome ?? "skipped", counts: run?.counts ?? null, error: run?.error ?? null } });
      if (run?.outcome === "failed") throw new AppError("internal", `job ${args.name} failed: ${run.error}`);
      return run;
    },
  },
  "rtbf.list": {
    needs: "owner",
    run: async ({ engine }, args) => {
      const rows = await engine.query<{ workspace_id: string; id: string }>("select workspace_id, id from rtbf_requests order by due_at");
      const out = [];
      for (const row of rows) {
        const view = await withTenant(engine, row.workspace_id, (tx) => getRequest(tx, row.workspace_id, row.id));
        if (args.overdue && !view.overdue) continue;
        if (args.status && view.status !== args.status) continue;
        out.push({ workspace_id: row.workspace_id, ...view });
      }
      return out;
    },
  },
  "rtbf.show": {
    needs: "owner",
    run: async ({ engine }, args) => {
      const ws = await rtbfWorkspace(engine, String(args.id));
      return { workspace_id: ws, ...(await withTenant(engine, ws, (tx) => getRequest(tx, ws, String(args.id)))) };
    },
  },
  "rtbf.decide": {
    needs: "owner",
    run: async ({ engine, signer, config }, args) => {
      const id = String(args.id);
      const ws = await rtbfWorkspace(engine, id);
      const actor = { workspaceId: ws, actorId: String(args.actor ?? "operator"), actorType: "operator" as const, context: {} };
      if (args.decision === "approve") {
        const keys = await loadServerKeys(config, engine);
        await approve(engine, keys.rtbf, exportStore(config, keys), actor, id);
        // The operator's connection owns the tables: vacuum now rather than wait for serve's worker. A
        // failure leaves the request's vacuum pending (shown by `rtbf show`), the erasure itself is done.
        await vacuumPendingErasures(engine, { requestId: id, actor: actor.actorId, full: vacuumFull(config.rtbfVacuum, config.engine) }).catch(() => undefined);
        return withTenant(engine, ws, (tx) => getRequest(tx, ws, id));
      }
      const to = args.decision === "reject" ? "rejected" : args.decision === "hold" ? "on_hold" : "verifying";
      return withTenant(engine, ws, (tx) => transition(tx, actor, id, to, args.reason as string | undefined));
    },
  },
  "rtbf.vacuum": {
    needs: "owner",
    // Each vacuumed request gets its own audit row and compliance-log entry in its workspace.
    run: ({ engine, config }, args) => vacuumPendingErasures(engine, { requestId: args.id as string | undefined, actor: String(args.actor), full: args.full === true || vacuumFull(config.rtbfVacuum, config.engine) }),
  },
  "audit.operator-log": {
    needs: "owner",
    run: ({ engine }, args) => listOperatorLog(engine, { action: args.action as string | undefined, limit: args.limit as number | undefined, before: args.before as number | undefined }),
  },
  "rtbf.jwks": {
    needs: "owner",
    run: async ({ signer }) => ({ keys: [(await signer()).publicJwk] }),
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

/** The export archive store as `serve` builds it (an erasure deletes archives from it). */
function exportStore(config: Config, keys: ServerKeys) {
  return archiveStore(config, exportLinks(keys.exportLinkKey, config.exportLinkMinutes));
}

async function jobsFor({ engine, config }: OperationContext) {
  const keys = await loadServerKeys(config, engine);
  return scheduledJobs(engine, config, async () => keys.rtbf, exportStore(config, keys));
}

/** Appends to the operator log in a transaction of its own (for actions made of several transactions). */
function logged(engine: Engine, entry: OperatorEntry): Promise<unknown> {
  return engine.transaction((tx) => appendOperatorLog(tx, entry));
}

function logKekRotation(engine: Engine, actor: string, rotation: Awaited<ReturnType<typeof rotateKek>>, why: Record<string, unknown>): Promise<unknown> {
  return logged(engine, { action: "key.kek_rotated", actor, targetType: "master_key", targetId: `v${rotation.kekCurrentVersion}`, after: { ...why, ...rotation } });
}

async function rtbfWorkspace(engine: Engine, id: string): Promise<string> {
  const [row] = await engine.query<{ workspace_id: string }>("select workspace_id from rtbf_requests where id = $1", [id]);
  if (!row) throw new AppError("not_found", `erasure request ${id} not found`);
  return row.workspace_id;
}

function lazySigner(config: Config, engine: Engine): () => Promise<Signer> {
  let signer: Promise<Signer> | undefined;
  return () => (signer ??= loadServerKeys(config, engine).then((keys) => keys.signer));
}

function lazyKek(config: Config, engine: Engine): () => Promise<LocalKeyRing> {
  let ring: Promise<LocalKeyRing> | undefined;
  return () => (ring ??= openKeyRing(config, engine));
}

/** Runs an operation inside an already-open server (the control socket's side). */
export function runInProcess(name: OperationName, ctx: OperationContext, args: Args): Promise<unknown> {
  const op: Operation = operations[name];
  return op.run(ctx, args);
}

/** Runs an operation from a CLI or TUI process: through a running server's socket, or on its own connection. */
export async function runOperation(config: Config, name: OperationName, givenArgs: Args = {}, progress?: (done: number, total: number) => void): Promise<unknown> {
  const op: Operation = operations[name];
  const args = withActor(givenArgs);
  if (config.engine === "pglite") {
    if (serveIsRunning(config.dataDir)) return controlRequest(config.dataDir, name, args);
    const db = await openEmbedded(config, "command", { migrate: op.migrateFirst ?? false });
    try {
      return await op.run({ engine: db.engine, config, kek: lazyKek(config, db.engine), signer: lazySigner(config, db.engine) }, args, progress);
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
    return await op.run({ engine, config, kek: lazyKek(config, engine), signer: lazySigner(config, engine) }, args, progress);
  } finally {
    await engine.close();
  }
}

/** Who asked, from the calling process (a running server would otherwise record its own user). */
function withActor(args: Args): Args {
  return { ...args, actor: args.actor ?? operatorIdentity() };
}

export interface OperatorSession {
  run(name: OperationName, args?: Args, progress?: (done: number, total: number) => void): Promise<unknown>;
  /** Whether this session holds the PGlite data dir right now (for tests and the console's status). */
  holdsDataDir(): boolean;
  close(): Promise<void>;
}

/**
 * For a long-lived caller (the console). On a PGlite data dir that no `serve` holds, opening PGlite costs
 * about half a second, and a screen asks for several things at once: the session keeps one connection
 * for a burst of operations (run one after another) and releases the data dir after idleMs without one,
 * so `serve` or a CLI command can take it. With `serve` running, or on PostgreSQL, it is runOperation.
 */
export function operatorSession(config: Config, idleMs = 1500): OperatorSession {
  let held: { db: Awaited<ReturnType<typeof openEmbedded>>; ctx: OperationContext; migrated: boolean } | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const release = async () => {
    const current = held;
    held = undefined;
    await current?.db.close();
  };
  const runOne = async (name: OperationName, givenArgs: Args, progress?: (done: number, total: number) => void) => {
    clearTimeout(idle);
    if (!held && (config.engine !== "pglite" || serveIsRunning(config.dataDir))) return runOperation(config, name, givenArgs, progress);
    const op: Operation = operations[name];
    const args = withActor(givenArgs);
    if (!held) {
      const db = await openEmbedded(config, "command", { migrate: false });
      held = { db, ctx: { engine: db.engine, config, kek: lazyKek(config, db.engine), signer: lazySigner(config, db.engine) }, migrated: false };
    }
    try {
      if (op.migrateFirst && !held.migrated) {
        await migrateEmbedded(held.ctx.engine, args.actor as string);
        held.migrated = true;
      }
      return await op.run(held.ctx, args, progress);
    } finally {
      idle = setTimeout(() => void (queue = queue.then(release, release)), idleMs);
    }
  };
  return {
    run(name, args = {}, progress) {
      const result = queue.then(() => runOne(name, args, progress));
      queue = result.catch(() => {});
      return result;
    },
    holdsDataDir: () => held !== undefined,
    close: async () => {
      clearTimeout(idle);
      await queue;
      await release();
    },
  };
}
