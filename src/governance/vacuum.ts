// After an erasure commits, the erased values are still on disk in dead tuples (old row versions and index
// entries) until VACUUM prunes them. VACUUM cannot run in a transaction and, on PostgreSQL 16, only the
// table owner (or a superuser) may vacuum a table: the runtime role `causeloop_app` is neither. So the
// erasure records the tables it touched and queues `rtbf.vacuum`; the job runs it through the owner
// connection (DATABASE_OWNER_URL; in embedded mode the one PGlite connection). Without one the request
// stays `vacuum_status = pending`, shown by `causeloop rtbf show` and doctor, until an operator runs
// `causeloop rtbf vacuum`.
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import { ERASURE_MAP } from "./erasure-map.ts";

/** A connection that owns the tables (it can VACUUM them); opened for the work and released after. */
export interface MaintenanceConnection {
  /** VACUUM FULL (rewrite the tables) rather than plain VACUUM: see vacuumMode. */
  full: boolean;
  run<T>(fn: (owner: Engine) => Promise<T>): Promise<T>;
}

export type VacuumSetting = "auto" | "plain" | "full";

/**
 * Plain VACUUM prunes the dead row versions, but a pruned tuple's bytes can stay in the page's free space
 * until a later insert overwrites them (measured: the most recently inserted tuple of a page survives on
 * disk). VACUUM FULL rewrites the table into new files and unlinks the old ones, at the cost of an
 * exclusive lock for the rewrite. auto: FULL on embedded PGlite (one process, small tables), plain on
 * PostgreSQL (a rewrite of a shared table would block every tenant).
 */
export function vacuumFull(setting: VacuumSetting, engine: "pglite" | "postgres"): boolean {
  return setting === "full" || (setting === "auto" && engine === "pglite");
}

/** The only tables a vacuum may name: what an erasure can touch. */
const VACUUMABLE = new Set<string>([...ERASURE_MAP.map((r) => r.table), "users", "rtbf_requests", "export_jobs"]);

/** The tables an erasure left dead tuples in: every table it changed, the account, and its own request. */
export function erasedTables(results: { table: string; rows: number }[], accountDeleted: boolean): string[] {
  const tables = new Set(results.filter((r) => r.rows > 0).map((r) => r.table));
  tables.add("rtbf_requests"); // the request's working copy of the email was cleared
  if (accountDeleted) tables.add("users");
  return [...tables].sort();
}

export interface VacuumResult {
  tables: string[];
  full: boolean;
  /** Whether a CHECKPOINT followed (it writes the pruned pages to the data files now, not within checkpoint_timeout). */
  checkpoint: boolean;
}

/** VACUUM (plain: with index cleanup, an index entry holds the value too) outside any transaction, as the owner. */
export async function vacuumTables(owner: Engine, requested: string[], full = false): Promise<VacuumResult> {
  const tables = [...new Set(requested)].filter((t) => VACUUMABLE.has(t)).sort();
  if (tables.length === 0) return { tables, full, checkpoint: false };
  const denied = await owner.query<{ name: string }>(
    `select c.relname::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relname in (select jsonb_array_elements_text($1::jsonb))
        and not pg_has_role(current_user, c.relowner, 'MEMBER') and not (select rolsuper from pg_roles where rolname = current_user)`,
    [JSON.stringify(tables)],
  );
  // PostgreSQL skips a table it may not vacuum with a warning, not an error: refuse instead of claiming it.
  if (denied.length)
    throw new AppError(
      "forbidden",
      `the connection's role does not own ${denied.map((d) => d.name).join(", ")}, so VACUUM would skip them; run it through DATABASE_OWNER_URL ('causeloop rtbf vacuum')`,
    );
  await owner.exec(`vacuum (${full ? "full" : "index_cleanup on"}) ${tables.map((t) => `"${t}"`).join(", ")}`);
  const checkpoint = await owner.exec("checkpoint").then(
    () => true,
    () => false, // PostgreSQL: superuser or pg_checkpoint only; the checkpointer writes the pages soon anyway
  );
  return { tables, full, checkpoint };
}

interface PendingRequest {
  workspace_id: string;
  id: string;
  vacuum_tables: string[] | null;
}

async function pendingIn(engine: Engine, workspaceId: string, requestId?: string): Promise<PendingRequest[]> {
  return withTenant(engine, workspaceId, (tx) =>
    tx.query<PendingRequest>(
      "select workspace_id, id, vacuum_tables from rtbf_requests where workspace_id = $1 and vacuum_status = 'pending' and ($2::text is null or id = $2) order by id",
      [workspaceId, requestId ?? null],
    ),
  );
}

async function markVacuumed(
  engine: Engine,
  requests: PendingRequest[],
  result: VacuumResult,
  actorId: string,
): Promise<void> {
  for (const request of requests) {
    await withTenant(engine, request.workspace_id, async (tx) => {
      const [row] = await tx.query(
        "update rtbf_requests set vacuum_status = 'completed', vacuumed_at = now() where workspace_id = $1 and id = $2 and vacuum_status = 'pending' returning id",
        [request.workspace_id, request.id],
      );
      if (!row) return;
      const details = {
        request_id: request.id,
        tables: request.vacuum_tables ?? [],
        full: result.full,
        checkpoint: result.checkpoint,
      };
      await tx.query(
        "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, $2, 'rtbf.vacuum', $3, $4::jsonb)",
        [request.workspace_id, newId("cpl"), actorId, JSON.stringify(details)],
      );
      await appendAudit(tx, {
        workspaceId: request.workspace_id,
        action: "rtbf.vacuumed",
        actorId,
        actorType: actorId.startsWith("system:") ? "system" : "operator",
        targetType: "rtbf_request",
        targetId: request.id,
        after: details,
        context: {},
      });
    });
  }
}

/** The `rtbf.vacuum` job of one request: vacuums through the owner connection, or leaves it pending without one. */
export async function runVacuumJob(
  engine: Engine,
  maintenance: MaintenanceConnection | undefined,
  workspaceId: string,
  requestId: string,
): Promise<Record<string, unknown>> {
  const pending = await pendingIn(engine, workspaceId, requestId);
  if (pending.length === 0) return { vacuumed: 0 };
  if (!maintenance)
    return {
      vacuumed: 0,
      pending: true,
      reason: "no owner connection (DATABASE_OWNER_URL): run 'causeloop rtbf vacuum'",
    };
  const result = await maintenance.run((owner) =>
    vacuumTables(
      owner,
      pending.flatMap((p) => p.vacuum_tables ?? []),
      maintenance.full,
    ),
  );
  await markVacuumed(engine, pending, result, "system:worker");
  return { vacuumed: pending.length, ...result };
}

/** `causeloop rtbf vacuum [id]`: every pending erasure (or one), on the operator's owner connection. */
export async function vacuumPendingErasures(
  owner: Engine,
  options: { requestId?: string; actor: string; full: boolean },
): Promise<{ requests: string[] } & VacuumResult> {
  const rows = await owner.query<{ workspace_id: string }>(
    "select distinct workspace_id from rtbf_requests where vacuum_status = 'pending' and ($1::text is null or id = $1) order by 1",
    [options.requestId ?? null],
  );
  const pending: PendingRequest[] = [];
  for (const { workspace_id } of rows) pending.push(...(await pendingIn(owner, workspace_id, options.requestId)));
  if (pending.length === 0) return { requests: [], tables: [], full: options.full, checkpoint: false };
  const result = await vacuumTables(
    owner,
    pending.flatMap((p) => p.vacuum_tables ?? []),
    options.full,
  );
  await markVacuumed(owner, pending, result, options.actor);
  return { requests: pending.map((p) => p.id), ...result };
}
