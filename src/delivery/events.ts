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
  const eventId = newId("msg");
  const body = { type, timestamp: new Date().toISOString(), data };
  // One statement (a write's hot path): the destinations are found and their rows written together. Due from
  // queue_clock() (migration 0046: the clock, strictly increasing per connection), not the transaction's now():
  // two events of one change go out in the order they were made (deliveries are sent by due time, then id, ids
  // made in the same millisecond are in random order, and the embedded engine's clock moves in milliseconds).
  const written = await tx.query<{ event_id: string }>(
    `insert into webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload, next_attempt_at)
     select $1, new_id('dlv'), w.id, $2, $3, $4::jsonb, queue_clock() from webhooks w
      where w.workspace_id = $1 and w.deleted_at is null and w.status <> 'disabled'
        and (cardinality(w.events) = 0 or $3 = any(w.events) or $5 = any(w.events) or '*' = any(w.events))
     returning event_id`,
    [workspaceId, eventId, type, JSON.stringify(body), family],
  );
  return written.length ? eventId : null;
}
