// Retention (003 "Retention policies"): per-workspace windows, and the purge that enforces them through the
// tenant door in short keyset batches, never one giant DELETE. Soft-deleted rows go once their deletion is
// older than the window; audit rows only past the 365-day floor and covered by a signed checkpoint. Every
// run leaves per-table counts in the compliance log.
import { sweepIdempotencyKeys } from "../tenancy/idempotency.ts";
import { expiredFlowRows } from "../identity/sso/state.ts";
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";

export const AUDIT_FLOOR_DAYS = 365;
export const MAX_RETENTION_DAYS = 3650;
export const RETENTION_KEYS = [
  "issue_retention_days",
  "activity_retention_days",
  "prediction_retention_days",
  "audit_log_retention_days",
] as const;
export type RetentionKey = (typeof RETENTION_KEYS)[number];
export type RetentionSettings = Record<RetentionKey, number>;

export interface RetentionView {
  configured: RetentionSettings;
  effective: RetentionSettings;
  audit_log_floor_days: number;
}

function view(configured: RetentionSettings): RetentionView {
  return {
    configured,
    effective: {
      ...configured,
      audit_log_retention_days: Math.max(configured.audit_log_retention_days, AUDIT_FLOOR_DAYS),
    },
    audit_log_floor_days: AUDIT_FLOOR_DAYS,
  };
}

export async function getRetention(tx: Tx, workspaceId: string): Promise<RetentionView> {
  const [row] = await tx.query<RetentionSettings>(
    `select ${RETENTION_KEYS.join(", ")} from workspace_settings where workspace_id = $1`,
    [workspaceId],
  );
  if (!row) throw new AppError("not_found", "workspace settings not found");
  return view(row);
}

export async function updateRetention(tx: Tx, actor: Actor, patch: Partial<RetentionSettings>): Promise<RetentionView> {
  const entries = Object.entries(patch).filter(([, v]) => v !== undefined) as [RetentionKey, number][];
  if (entries.length === 0) throw new AppError("validation_failed", "give at least one retention setting");
  for (const [key, value] of entries) {
    if (!RETENTION_KEYS.includes(key)) throw new AppError("validation_failed", `${key} is not a retention setting`);
    if (!Number.isInteger(value) || value < 1 || value > MAX_RETENTION_DAYS)
      throw new AppError("validation_failed", `${key} must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}`);
  }
  const before = await getRetention(tx, actor.workspaceId);
  const sets = entries.map(([key], i) => `${key} = $${i + 2}`).join(", ");
  await tx.query(`update workspace_settings set ${sets} where workspace_id = $1`, [
    actor.workspaceId,
    ...entries.map(([, v]) => v),
  ]);
  const after = await getRetention(tx, actor.workspaceId);
  await tx.query(
    "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, $2, 'retention.changed', $3, $4::jsonb)",
    [
      actor.workspaceId,
      newId("cpl"),
      actor.actorId,
      JSON.stringify({ before: before.configured, after: after.configured }),
    ],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "retention.updated",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "workspace_settings",
    targetId: actor.workspaceId,
    before: before.configured,
    after: after.configured,
    context: actor.context,
  });
  return after;
}

/** What retention removes: table, the setting that governs it, and when a row is past its window. */
const TARGETS: { table: string; key: RetentionKey; expired: string }[] = [
  { table: "issues", key: "issue_retention_days", expired: "(created_at < $2 or deleted_at < $2)" },
  { table: "activity_events", key: "activity_retention_days", expired: "created_at < $2" },
  { table: "ingested_events", key: "activity_retention_days", expired: "created_at < $2" },
  { table: "predictions", key: "prediction_retention_days", expired: "(created_at < $2 or deleted_at < $2)" },
];

export interface PurgeCounts {
  workspace_id: string;
  dry_run: boolean;
  counts: Record<string, number>;
}

/** Purges one workspace; each batch is its own short transaction through the tenant door. */
export async function purgeWorkspace(
  engine: Engine,
  workspaceId: string,
  options: { dryRun?: boolean; batch?: number; now?: Date; actor?: string } = {},
): Promise<PurgeCounts> {
  const batch = options.batch ?? 2000;
  const now = options.now ?? new Date();
  const settings = await withTenant(engine, workspaceId, (tx) => getRetention(tx, workspaceId));
  const cutoff = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
  const counts: Record<string, number> = {};
  for (const target of TARGETS) {
    const before = cutoff(settings.effective[target.key]);
    if (options.dryRun) {
      const [row] = await withTenant(engine, workspaceId, (tx) =>
        tx.query<{ n: number }>(
          `select count(*)::int as n from ${target.table} where workspace_id = $1 and ${target.expired}`,
          [workspaceId, before],
        ),
      );
      counts[target.table] = row?.n ?? 0;
      continue;
    }
    let total = 0;
    for (;;) {
      const deleted = await withTenant(engine, workspaceId, (tx) =>
        tx.query(
          `delete from ${target.table} where (workspace_id, id) in (select workspace_id, id from ${target.table} where workspace_id = $1 and ${target.expired} order by created_at limit ${batch}) returning 1`,
          [workspaceId, before],
        ),
      );
      total += deleted.length;
      if (deleted.length < batch) break;
    }
    counts[target.table] = total;
  }
  // Idempotency-Key answers past their expiry (CAUSELOOP_IDEMPOTENCY_TTL_HOURS): nothing to keep them for.
  counts.idempotency_keys = await withTenant(engine, workspaceId, (tx) =>
    options.dryRun
      ? tx
          .query<{ n: number }>(
            "select count(*)::int as n from idempotency_keys where workspace_id = $1 and expires_at < now()",
            [workspaceId],
          )
          .then((rows) => rows[0]?.n ?? 0)
      : sweepIdempotencyKeys(tx, workspaceId),
  );
  // Single sign-on flows never finished and SAML assertion ids past their validity.
  counts.sso_flows = await withTenant(engine, workspaceId, (tx) => expiredFlowRows(tx, workspaceId, !options.dryRun));
  const auditBefore = cutoff(settings.effective.audit_log_retention_days);
  if (options.dryRun) {
    const [row] = await withTenant(engine, workspaceId, (tx) =>
      tx.query<{ n: number }>(
        `select count(*)::int as n from audit_log where workspace_id = $1 and created_at < least($2::timestamptz, now() - interval '365 days')
           and seq <= (select coalesce(max(seq), 0) from audit_checkpoints where workspace_id = $1)`,
        [workspaceId, auditBefore],
      ),
    );
    counts.audit_log = row?.n ?? 0;
  } else {
    let total = 0;
    for (;;) {
      const [row] = await withTenant(engine, workspaceId, (tx) =>
        tx.query<{ n: number }>("select audit_log_purge_expired($1, $2::timestamptz, $3) as n", [
          workspaceId,
          auditBefore,
          batch,
        ]),
      );
      total += row?.n ?? 0;
      if ((row?.n ?? 0) < batch) break;
    }
    counts.audit_log = total;
  }
  if (!options.dryRun) {
    await withTenant(engine, workspaceId, (tx) =>
      tx.query(
        "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, $2, 'retention.run', $3, $4::jsonb)",
        [
          workspaceId,
          newId("cpl"),
          options.actor ?? "system:scheduler",
          JSON.stringify({ counts, effective: settings.effective, ran_at: now.toISOString() }),
        ],
      ),
    );
  }
  return { workspace_id: workspaceId, dry_run: Boolean(options.dryRun), counts };
}

/** Every active workspace (or one), each entered through the door. */
export async function runRetention(
  engine: Engine,
  options: { workspace?: string; dryRun?: boolean; batch?: number; actor?: string } = {},
): Promise<{ workspaces: PurgeCounts[]; totals: Record<string, number> }> {
  const ids = options.workspace
    ? [options.workspace]
    : (await engine.query<{ id: string }>("select active_workspace_ids() as id")).map((r) => r.id);
  if (options.workspace) {
    const known = await engine.query<{ id: string }>("select active_workspace_ids() as id");
    if (!known.some((r) => r.id === options.workspace))
      throw new AppError("not_found", `workspace ${options.workspace} not found or disabled`);
  }
  const workspaces: PurgeCounts[] = [];
  const totals: Record<string, number> = {};
  for (const id of ids) {
    const result = await purgeWorkspace(engine, id, options);
    workspaces.push(result);
    for (const [table, n] of Object.entries(result.counts)) totals[table] = (totals[table] ?? 0) + n;
  }
  return { workspaces, totals };
}
