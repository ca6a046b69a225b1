// Security alerts: raised by the rules (over the audit trail in SQL, migration 0032; over the request stream in
// request-rules.ts; by the installation's own checks), deduplicated (one open alert per rule and subject, its
// occurrences counted), listed, acknowledged with a note. A workspace's alerts live under RLS and reach its
// webhooks subscribed to security.alert; the operator's (isolation, audit verification) live in a global table.
import type { Static } from "elysia";
import type { Queryable, Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import type { SecurityAlert } from "./schemas.ts";

export type AlertView = Static<typeof SecurityAlert>;
export const ALERT_STATUSES = ["open", "acknowledged", "resolved"] as const;

const COLUMNS =
  "id, rule, severity, summary, details, occurrences, status, first_seen_at, last_seen_at, acknowledged_by, acknowledged_at, ack_note";
const iso = (value: unknown) => (value ? new Date(value as string).toISOString() : null);

function view(row: Record<string, unknown>): AlertView {
  return {
    id: row.id as string,
    rule: row.rule as string,
    severity: row.severity as string,
    summary: row.summary as string,
    details: (typeof row.details === "string" ? JSON.parse(row.details) : row.details) as Record<string, unknown>,
    occurrences: Number(row.occurrences),
    status: row.status as string,
    first_seen_at: iso(row.first_seen_at) as string,
    last_seen_at: iso(row.last_seen_at) as string,
    acknowledged_by: (row.acknowledged_by as string | null) ?? null,
    acknowledged_at: iso(row.acknowledged_at),
    ack_note: (row.ack_note as string | null) ?? null,
  };
}

/** Raises a workspace alert (or counts another occurrence of the open one); null when the rule is off. */
export async function raiseAlert(
  tx: Tx,
  workspaceId: string,
  alert: { rule: string; summary: string; details: Record<string, unknown>; dedupKey: string },
): Promise<string | null> {
  const [row] = await tx.query<{ id: string | null }>("select raise_security_alert($1, $2, $3, $4::jsonb, $5) as id", [
    workspaceId,
    alert.rule,
    alert.summary,
    JSON.stringify(alert.details),
    alert.dedupKey,
  ]);
  return row?.id ?? null;
}

/** A workspace's alerts, newest first. */
export async function listAlerts(
  tx: Tx,
  workspaceId: string,
  query: PageQuery & { status?: string } = {},
): Promise<Page<AlertView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from security_alerts
      where workspace_id = $1 and ($2::text is null or status = $2) and ($3::text is null or id < $3)
      order by id desc limit $4`,
    [workspaceId, query.status ?? null, after, limit + 1],
  );
  return idPage(rows.map(view), limit);
}

export async function acknowledgeAlert(tx: Tx, actor: Actor, id: string, note: string): Promise<AlertView> {
  const [row] = await tx.query<Record<string, unknown>>(
    `update security_alerts set status = 'acknowledged', acknowledged_by = $3, acknowledged_at = now(), ack_note = $4
      where workspace_id = $1 and id = $2 and status = 'open' returning ${COLUMNS}`,
    [actor.workspaceId, id, actor.actorId, note],
  );
  if (!row) {
    const [exists] = await tx.query<{ status: string }>(
      "select status from security_alerts where workspace_id = $1 and id = $2",
      [actor.workspaceId, id],
    );
    if (!exists) throw new AppError("not_found", `alert ${id} not found`);
    throw new AppError("conflict", `alert ${id} is ${exists.status}, not open`);
  }
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "security_alert.acknowledged",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "security_alert",
    targetId: id,
    after: { rule: row.rule, note },
    context: actor.context,
  });
  return view(row);
}

/**
 * The alerts of a period (seen at some time in [from, to)), oldest first: a workspace's inside its tenant
 * transaction, or the operator's on the owner connection. For the evidence pack.
 */
export async function alertsInPeriod(
  db: Queryable,
  table: "security_alerts" | "operator_alerts",
  period: { from: string | Date; to: string | Date },
): Promise<AlertView[]> {
  const rows = await db.query<Record<string, unknown>>(
    `select ${COLUMNS} from ${table} where first_seen_at < $2 and last_seen_at >= $1 order by first_seen_at`,
    [period.from, period.to],
  );
  return rows.map(view);
}

// ---------------------------------------------------------------- the operator's alerts

/** Raises an operator alert (any connection: the function is SECURITY DEFINER); null when the rule is off. */
export async function raiseOperatorAlert(
  db: Queryable,
  alert: { rule: string; summary: string; details: Record<string, unknown>; dedupKey: string },
): Promise<string | null> {
  const [row] = await db.query<{ id: string | null }>("select raise_operator_alert($1, $2, $3::jsonb, $4) as id", [
    alert.rule,
    alert.summary,
    JSON.stringify(alert.details),
    alert.dedupKey,
  ]);
  return row?.id ?? null;
}

/** The condition is gone: its open alert becomes resolved (kept as history). */
export async function resolveOperatorAlert(db: Queryable, dedupKey: string): Promise<number> {
  const [row] = await db.query<{ n: number }>("select resolve_operator_alert($1) as n", [dedupKey]);
  return row?.n ?? 0;
}

/** The operator's alerts, newest first (owner connection). */
export async function listOperatorAlerts(
  db: Queryable,
  query: { status?: string; limit?: number } = {},
): Promise<AlertView[]> {
  const rows = await db.query<Record<string, unknown>>(
    `select ${COLUMNS} from operator_alerts where ($1::text is null or status = $1) order by id desc limit $2`,
    [query.status ?? null, Math.min(query.limit ?? 100, 1000)],
  );
  return rows.map(view);
}

export async function acknowledgeOperatorAlert(
  db: Queryable,
  id: string,
  note: string,
  operator: string,
): Promise<AlertView> {
  const [row] = await db.query<Record<string, unknown>>(
    `update operator_alerts set status = 'acknowledged', acknowledged_by = $2, acknowledged_at = now(), ack_note = $3
      where id = $1 and status in ('open', 'resolved') and acknowledged_at is null returning ${COLUMNS}`,
    [id, operator, note],
  );
  if (!row) {
    const [exists] = await db.query<{ status: string }>("select status from operator_alerts where id = $1", [id]);
    if (!exists) throw new AppError("not_found", `operator alert ${id} not found`);
    throw new AppError("conflict", `operator alert ${id} is already acknowledged`);
  }
  return view(row);
}
