// The outbox: an event leaves Causeloop as one webhook_deliveries row per subscribed destination, written in
// the transaction of the change that caused it, so a change and its event commit (or roll back) together.
// The delivery worker (worker.ts) sends them. The body is the Standard Webhooks shape: {type, timestamp, data}.
import type { Tx } from "../db/engine.ts";
import { newId } from "../ids.ts";

/** Every event a destination can subscribe to. */
export const EVENT_TYPES = [
  "issue.created",
  "issue.updated",
  "issue.resolved",
  "issue.deleted",
  "audit.checkpoint",
  "security.alert",
  "cluster.created",
  "cluster.regressed",
  "prediction.created",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The names a webhook's `events` may hold: an event type, a family (`issue.*`) or `*` (everything). */
export function unknownEventNames(names: string[]): string[] {
  const families = new Set(EVENT_TYPES.map((type) => `${type.split(".")[0]}.*`));
  const known = new Set<string>([...EVENT_TYPES, ...families, "*"]);
  return names.filter((name) => !known.has(name));
}

/**
 * Writes the event for every active destination of the workspace subscribed to it (an empty subscription
 * list means every event). Returns the event id (the `webhook-id` receivers deduplicate by), or null when
 * nobody subscribed.
 */
export async function emitEvent(
  tx: Tx,
  workspaceId: string,
  type: EventType,
  data: Record<string, unknown>,
): Promise<string | null> {
  const family = `${type.split(".")[0]}.*`;
  const destinations = await tx.query<{ id: string }>(
    `select id from webhooks
      where workspace_id = $1 and deleted_at is null and status <> 'disabled'
        and (cardinality(events) = 0 or $2 = any(events) or $3 = any(events) or '*' = any(events))`,
    [workspaceId, type, family],
  );
  if (!destinations.length) return null;
  const eventId = newId("msg");
  const body = { type, timestamp: new Date().toISOString(), data };
  await tx.query(
    `insert into webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload)
     select $1, d.id, d.webhook_id, $2, $3, $4::jsonb from unnest($5::text[], $6::text[]) as d(id, webhook_id)`,
    [
      workspaceId,
      eventId,
      type,
      JSON.stringify(body),
      destinations.map(() => newId("dlv")),
      destinations.map((d) => d.id),
    ],
  );
  return eventId;
}
