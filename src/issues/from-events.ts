// Issues as ingested events open, update, reopen and resolve them: one issue per fingerprint at a time. Each
// change that matters to a subscriber (opened, reopened, severity raised, resolved) is audited and leaves an
// issue.* event through the outbox, in the event's transaction. Repeats of a firing event only move last_seen_at.
import type { Tx } from "../db/engine.ts";
import { newId } from "../ids.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import { emitEvent } from "../delivery/events.ts";
import { COLUMNS, eventData, ISSUE_SEVERITIES, toIssue, type Issue } from "./service.ts";

export type IssueAction = "opened" | "updated" | "reopened" | "resolved" | "none";

export interface EventFacts {
  title: string;
  message: string;
  severity: (typeof ISSUE_SEVERITIES)[number];
  status: "firing" | "resolved";
  source: string;
  fingerprint: string;
  occurredAt: string;
  metadata: Record<string, unknown>;
  /** The event's cluster (src/intelligence/clusters.ts): the issue belongs to it. */
  clusterId: string;
}

interface Current {
  id: string;
  status: string;
  severity: string;
}

const CLOSED = new Set(["resolved", "closed"]);
const rank = (severity: string) => ISSUE_SEVERITIES.indexOf(severity as (typeof ISSUE_SEVERITIES)[number]);

/**
 * The fingerprint's issue (an open one first, else the latest), locked until the event's transaction ends. The
 * fingerprint itself is locked first: two first events of one fingerprint arriving at once find no row to lock
 * and would each open an issue.
 */
async function issueOf(tx: Tx, workspaceId: string, fingerprint: string): Promise<Current | undefined> {
  await tx.query("select pg_advisory_xact_lock(hashtextextended('fingerprint:' || $1 || ':' || $2, 0))", [
    workspaceId,
    fingerprint,
  ]);
  const [row] = await tx.query<Current>(
    `select id, status, severity from issues where workspace_id = $1 and fingerprint = $2 and deleted_at is null
      order by status in ('resolved', 'closed'), last_seen_at desc limit 1 for update`,
    [workspaceId, fingerprint],
  );
  return row;
}

async function announce(tx: Tx, actor: Actor, issue: Issue, action: IssueAction, before?: Current): Promise<void> {
  const pick = (i: { status: string; severity: string }) => ({ status: i.status, severity: i.severity });
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: action === "opened" ? "issue.created" : "issue.updated",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "issue",
    targetId: issue.id,
    before: before ? pick(before) : undefined,
    after: { title: issue.title, ...pick(issue) },
    context: actor.context,
  });
  await emitEvent(tx, actor.workspaceId, action === "opened" ? "issue.created" : "issue.updated", eventData(issue));
  if (action === "resolved") await emitEvent(tx, actor.workspaceId, "issue.resolved", eventData(issue));
}

async function open(tx: Tx, actor: Actor, facts: EventFacts): Promise<Issue> {
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into issues (workspace_id, id, title, body, severity, source, fingerprint, metadata, first_seen_at, last_seen_at, cluster_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $9, $10) returning ${COLUMNS}`,
    [
      actor.workspaceId,
      newId("iss"),
      facts.title,
      facts.message,
      facts.severity,
      facts.source,
      facts.fingerprint,
      JSON.stringify(facts.metadata),
      facts.occurredAt,
      facts.clusterId,
    ],
  );
  return toIssue(row as Record<string, unknown>);
}

/** Applies one event to its fingerprint's issue; returns the issue (if any) and what happened to it. */
export async function applyEvent(
  tx: Tx,
  actor: Actor,
  facts: EventFacts,
): Promise<{ issueId: string | null; action: IssueAction }> {
  const current = await issueOf(tx, actor.workspaceId, facts.fingerprint);
  if (!current) {
    // A resolution of something never seen firing opens nothing.
    if (facts.status === "resolved") return { issueId: null, action: "none" };
    const issue = await open(tx, actor, facts);
    await announce(tx, actor, issue, "opened");
    return { issueId: issue.id, action: "opened" };
  }
  const closed = CLOSED.has(current.status);
  if (facts.status === "resolved" && closed) return { issueId: current.id, action: "none" };
  const resolve = facts.status === "resolved";
  const reopen = !resolve && closed;
  const raise = !resolve && rank(facts.severity) < rank(current.severity);
  const [row] = await tx.query<Record<string, unknown>>(
    `update issues set last_seen_at = greatest(last_seen_at, $3),
            status = case when $4 then 'resolved' when $5 then 'open' else status end,
            resolved_at = case when $4 then $3 when $5 then null else resolved_at end,
            severity = case when $6 then $7 else severity end, cluster_id = coalesce(cluster_id, $8)
      where workspace_id = $1 and id = $2 returning ${COLUMNS}`,
    [actor.workspaceId, current.id, facts.occurredAt, resolve, reopen, raise, facts.severity, facts.clusterId],
  );
  const action: IssueAction = resolve ? "resolved" : reopen ? "reopened" : "updated";
  if (resolve || reopen || raise) await announce(tx, actor, toIssue(row as Record<string, unknown>), action, current);
  return { issueId: current.id, action };
}
