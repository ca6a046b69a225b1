// Issues: the first protected resource and the pattern later resources copy. Every function takes the
// caller's tenant transaction; workspace filters are explicit even though RLS enforces them too.
import type { Static } from "elysia";
import type { Issue as IssueSchema } from "./schemas.ts";
import type { Tx } from "../db/engine.ts";
import { newId } from "../ids.ts";
import { cursorOf, pageLimit, Where } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import { emitEvent } from "../delivery/events.ts";
import { recordActivity } from "./activity.ts";

export const ISSUE_STATUSES = ["open", "investigating", "mitigated", "resolved", "closed"] as const;
export const ISSUE_SEVERITIES = ["critical", "high", "medium", "low", "info"] as const;

/** An issue as the API answers it: the contract's schema is the one definition of the shape. */
export type Issue = Static<typeof IssueSchema>;

export interface IssueInput {
  title?: string;
  body?: string;
  status?: string;
  severity?: string;
  reporter_email?: string | null;
  /** What resolved it: quoted by the recommendation for the next issue of the same problem. */
  resolution?: string | null;
}

export interface ListFilter {
  status?: string;
  severity?: string;
  created_after?: string;
  created_before?: string;
  limit?: number;
  cursor?: string;
}

export const COLUMNS =
  "id, workspace_id, title, body, status, severity, source, reporter_email, created_by, cluster_id, resolution, first_seen_at, last_seen_at, resolved_at, created_at, updated_at";

const iso = (value: unknown) => new Date(value as string).toISOString();

export function toIssue(row: Record<string, unknown>): Issue {
  return {
    ...(row as unknown as Issue),
    first_seen_at: iso(row.first_seen_at),
    last_seen_at: iso(row.last_seen_at),
    resolved_at: row.resolved_at ? iso(row.resolved_at) : null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** An issue as events carry it: no email address leaves in an event (it stays behind the API, where erasure reaches it). */
export function eventData({ reporter_email: _, ...issue }: Issue): Record<string, unknown> {
  return issue;
}

export async function createIssue(tx: Tx, actor: Actor, input: IssueInput): Promise<Issue> {
  const id = newId("iss");
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into issues (workspace_id, id, title, body, status, severity, reporter_email, created_by)
     values ($1, $2, $3, $4, coalesce($5, 'open'), coalesce($6, 'medium'), $7, $8) returning ${COLUMNS}`,
    [
      actor.workspaceId,
      id,
      input.title,
      input.body ?? "",
      input.status ?? null,
      input.severity ?? null,
      input.reporter_email?.toLowerCase() ?? null,
      actor.actorId,
    ],
  );
  const issue = toIssue(row as Record<string, unknown>);
  await together(
    appendAudit(tx, {
      workspaceId: actor.workspaceId,
      action: "issue.created",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "issue",
      targetId: id,
      after: { title: issue.title, status: issue.status, severity: issue.severity },
      context: actor.context,
    }),
    emitEvent(tx, actor.workspaceId, "issue.created", eventData(issue)),
    recordActivity(tx, {
      ...activityActor(actor),
      issueId: id,
      kind: "issue.created",
      payload: { title: issue.title, status: issue.status, severity: issue.severity },
    }),
  );
  return issue;
}

/**
 * A change's audit event, webhook event and timeline entry, issued together: they do not depend on each other,
 * so on PostgreSQL they travel pipelined, in one write and one round trip, in the order given (postgres.js
 * sends a transaction's queries in the order they are made). A failure fails the whole transaction as before.
 */
async function together(...writes: Promise<unknown>[]): Promise<void> {
  await Promise.all(writes);
}

/** Who an activity event names: the actor of an API call. */
function activityActor(actor: Actor) {
  return { workspaceId: actor.workspaceId, actorId: actor.actorId, actorType: actor.actorType };
}

/** What an update changed, field by field (the body only as changed or not: it can be long). */
function changesOf(before: Issue, after: Issue): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  for (const field of ["title", "status", "severity"] as const)
    if (before[field] !== after[field]) changes[field] = { from: before[field], to: after[field] };
  if (before.body !== after.body) changes.body = "changed";
  if (before.reporter_email !== after.reporter_email) changes.reporter_email = "changed";
  return changes;
}

export async function getIssue(tx: Tx, workspaceId: string, id: string): Promise<Issue> {
  // The hot path (GET by id): a fixed text, so PostgreSQL keeps it prepared on each connection.
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from issues where workspace_id = $1 and id = $2 and deleted_at is null`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `issue ${id} not found`);
  return toIssue(row);
}

export async function listIssues(
  tx: Tx,
  workspaceId: string,
  filter: ListFilter,
): Promise<{ data: Issue[]; next_cursor: string | null }> {
  const limit = pageLimit(filter.limit, 200);
  const where = new Where("workspace_id = ?", workspaceId)
    .raw("deleted_at is null")
    .maybe("status = ?", filter.status)
    .maybe("severity = ?", filter.severity)
    .time("created_after", "created_at", ">=", filter.created_after)
    .time("created_before", "created_at", "<", filter.created_before)
    .afterCursor(filter.cursor);
  const rows = await tx.query<Record<string, unknown> & { cursor_at: string; id: string }>(
    `select ${COLUMNS}, audit_time(created_at) as cursor_at from issues where ${where} order by created_at desc, id desc limit ${where.param(limit + 1)}`,
    where.params,
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(({ cursor_at: _, ...row }) => toIssue(row)),
    next_cursor: rows.length > limit && last ? cursorOf(last.cursor_at, last.id) : null,
  };
}

export async function updateIssue(tx: Tx, actor: Actor, id: string, input: IssueInput): Promise<Issue> {
  const before = await getIssue(tx, actor.workspaceId, id);
  const [row] = await tx.query<Record<string, unknown>>(
    `update issues set title = coalesce($3, title), body = coalesce($4, body), status = coalesce($5, status), severity = coalesce($6, severity),
            reporter_email = case when $7::boolean then $8 else reporter_email end,
            resolution = case when $9::boolean then $10 else resolution end,
            resolved_at = case when $5 in ('resolved', 'closed') then coalesce(resolved_at, now())
                               when $5 is not null then null else resolved_at end
      where workspace_id = $1 and id = $2 and deleted_at is null returning ${COLUMNS}`,
    [
      actor.workspaceId,
      id,
      input.title ?? null,
      input.body ?? null,
      input.status ?? null,
      input.severity ?? null,
      input.reporter_email !== undefined,
      input.reporter_email?.toLowerCase() ?? null,
      input.resolution !== undefined,
      input.resolution ?? null,
    ],
  );
  const after = toIssue(row as Record<string, unknown>);
  const pick = (i: Issue) => ({ title: i.title, status: i.status, severity: i.severity });
  await together(
    appendAudit(tx, {
      workspaceId: actor.workspaceId,
      action: "issue.updated",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "issue",
      targetId: id,
      before: pick(before),
      after: pick(after),
      context: actor.context,
    }),
    // The resolved event is made after the updated one, as before: receivers get them in that order.
    emitEvent(tx, actor.workspaceId, "issue.updated", eventData(after)).then(() =>
      after.status === "resolved" && before.status !== "resolved"
        ? emitEvent(tx, actor.workspaceId, "issue.resolved", eventData(after))
        : null,
    ),
    recordActivity(tx, {
      ...activityActor(actor),
      issueId: id,
      kind: "issue.updated",
      payload: { changes: changesOf(before, after) },
    }),
  );
  return after;
}

export async function deleteIssue(tx: Tx, actor: Actor, id: string): Promise<void> {
  const before = await getIssue(tx, actor.workspaceId, id);
  await tx.query("update issues set deleted_at = now() where workspace_id = $1 and id = $2", [actor.workspaceId, id]);
  await together(
    appendAudit(tx, {
      workspaceId: actor.workspaceId,
      action: "issue.deleted",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "issue",
      targetId: id,
      before: { title: before.title, status: before.status },
      context: actor.context,
    }),
    emitEvent(tx, actor.workspaceId, "issue.deleted", { id, workspace_id: actor.workspaceId }),
    recordActivity(tx, { ...activityActor(actor), issueId: id, kind: "issue.deleted", payload: {} }),
  );
}
