// Ingesting one normalized event, in the caller's tenant transaction: stored once per (source, vendor event id),
// assigned to its cluster (src/intelligence/clusters.ts: the same problem whatever its numbers, ids and
// hosts), grouped into an issue by the vendor's fingerprint, else by its cluster, and written to the issue's
// timeline as an activity event. The receiving route and the bulk import both come through here.
import type { Tx } from "../db/engine.ts";
import { newId } from "../ids.ts";
import type { Actor, RequestContext } from "../audit/service.ts";
import { recordActivity } from "../issues/activity.ts";
import { applyEvent, type IssueAction } from "../issues/from-events.ts";
import type { NormalizedEvent } from "./event.ts";
import { assignEvent, lockClustering } from "../intelligence/clusters.ts";

export interface IngestOrigin {
  workspaceId: string;
  /** The inbound webhook it came through; null for an import. */
  inboundWebhookId: string | null;
  /** An import: the operator who ran it (`operator:<login>`). */
  operator?: string;
  /** The receiving request (trace id, address, agent), for the audit rows of what the event changes. */
  context?: RequestContext;
}

export interface Ingested {
  id: string;
  /** Already received (same source and vendor event id): nothing changed. */
  duplicate: boolean;
  issue_id: string | null;
  issue_action: IssueAction;
}

/**
 * The issue fingerprint of an event: the vendor's, else its cluster's; namespaced by source, so two vendors'
 * keys never collide.
 */
export const issueFingerprint = (event: NormalizedEvent, clusterId: string): string =>
  `${event.source}:${event.fingerprint ?? `cluster:${clusterId}`}`;

/** The answer for an event (source and vendor event id) this workspace already received, if it did. */
async function alreadyReceived(tx: Tx, workspaceId: string, event: NormalizedEvent): Promise<Ingested | undefined> {
  const [prior] = await tx.query<{ id: string; issue_id: string | null }>(
    "select id, issue_id from ingested_events where workspace_id = $1 and source = $2 and vendor_event_id = $3",
    [workspaceId, event.source, event.event_id],
  );
  return prior && { id: prior.id, duplicate: true, issue_id: prior.issue_id, issue_action: "none" };
}

export async function ingestEvent(tx: Tx, origin: IngestOrigin, event: NormalizedEvent): Promise<Ingested> {
  const { workspaceId } = origin;
  // The workspace's clustering is locked first: a repeated vendor event id is then seen before it is counted.
  await lockClustering(tx, workspaceId);
  const seen = await alreadyReceived(tx, workspaceId, event);
  if (seen) return seen;
  const cluster = await assignEvent(tx, workspaceId, {
    message: event.title,
    at: new Date(event.occurred_at),
    service: event.service,
  });
  const fingerprint = issueFingerprint(event, cluster.cluster_id);
  const [stored] = await tx.query<{ id: string }>(
    `insert into ingested_events (workspace_id, id, inbound_webhook_id, source, vendor_event_id, fingerprint, title, message,
                                  service, environment, severity, status, occurred_at, link)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     on conflict (workspace_id, source, vendor_event_id) do nothing returning id`,
    [
      workspaceId,
      newId("evt"),
      origin.inboundWebhookId,
      event.source,
      event.event_id,
      fingerprint,
      event.title,
      event.message,
      event.service,
      event.environment,
      event.severity,
      event.status,
      event.occurred_at,
      event.link,
    ],
  );
  // Under the clustering lock the check above already caught a repeat; the conflict clause stays as a backstop.
  if (!stored)
    return (
      (await alreadyReceived(tx, workspaceId, event)) ?? {
        id: "",
        duplicate: true,
        issue_id: null,
        issue_action: "none",
      }
    );
  const actor: Actor = origin.operator
    ? { workspaceId, actorId: origin.operator, actorType: "operator", context: origin.context ?? {} }
    : {
        workspaceId,
        actorId: origin.inboundWebhookId ?? `import:${event.source}`,
        actorType: "system",
        context: origin.context ?? {},
      };
  const { issueId, action } = await applyEvent(tx, actor, {
    title: event.title,
    message: event.message,
    severity: event.severity,
    status: event.status,
    source: event.source,
    fingerprint,
    occurredAt: event.occurred_at,
    metadata: { service: event.service, environment: event.environment, link: event.link },
    clusterId: cluster.cluster_id,
  });
  const activityId = await recordActivity(tx, {
    workspaceId,
    issueId,
    actorId: origin.operator ?? origin.inboundWebhookId,
    actorType: origin.operator ? "operator" : "integration",
    kind: `event.${event.status}`,
    clusterId: cluster.cluster_id,
    at: event.occurred_at,
    payload: {
      cluster_id: cluster.cluster_id,
      event_id: stored.id,
      source: event.source,
      vendor_event_id: event.event_id,
      title: event.title,
      severity: event.severity,
      occurred_at: event.occurred_at,
      link: event.link,
      issue_action: action,
    },
  });
  await tx.query(
    "update ingested_events set issue_id = $3, activity_event_id = $4 where workspace_id = $1 and id = $2",
    [workspaceId, stored.id, issueId, activityId],
  );
  return { id: stored.id, duplicate: false, issue_id: issueId, issue_action: action };
}
