// The generic JSON format (README, "Ingestion"): one normalized event, or `{ "events": [...] }` with up to
// 100 of them. Without `event_id`, the Standard Webhooks message id (webhook-id) and the event's position
// identify it, else its content with its time (the exact same event is kept once).
import { AppError } from "../../errors.ts";
import { SEVERITIES, type NormalizedEvent, type Severity } from "../event.ts";
import { sha256Hex } from "../../identity/tokens.ts";
import { linkOf, Reader, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

export const MAX_EVENTS_PER_REQUEST = 100;

/** One generic event (also a line of an NDJSON import). `source` names it when the caller has no better one. */
export function genericEvent(item: Reader, source = "generic", messageId: string | null = null): NormalizedEvent {
  const status = item.optStr("status") ?? "firing";
  if (status !== "firing" && status !== "resolved")
    throw new AppError("validation_failed", `${item.path}.status must be "firing" or "resolved"`);
  const severity = item.optStr("severity");
  if (severity && !SEVERITIES.includes(severity as Severity))
    throw new AppError("validation_failed", `${item.path}.severity must be critical, high, medium, low or info`);
  const occurred = item.optTime("occurred_at");
  if (item.has("occurred_at") && !occurred)
    throw new AppError("validation_failed", `${item.path}.occurred_at is not an ISO 8601 time between 1970 and 9999`);
  const event = {
    source,
    fingerprint: item.optStr("fingerprint", 300),
    title: item.str("title"),
    message: item.optStr("message", 10_000) ?? "",
    service: item.optStr("service", 200),
    environment: item.optStr("environment", 200),
    severity: (severity ?? "medium") as Severity,
    status: status as NormalizedEvent["status"],
    occurred_at: timeOr(occurred),
    link: linkOf(item.optStr("link", 2000)),
  };
  // Without an id of its own: the Standard Webhooks message id when it came with one, else its content.
  const id = item.optStr("event_id", 300) ?? messageId ?? sha256Hex(JSON.stringify(event));
  return { ...event, event_id: id };
}

export const generic: Adapter = ({ body, headers }) => {
  const root = Reader.of(body, "generic");
  const message = headers.get("webhook-id")?.slice(0, 200) ?? null;
  if (!root.has("events")) return [genericEvent(root, "generic", message)];
  const items = root.list("events");
  if (items.length > MAX_EVENTS_PER_REQUEST)
    throw new AppError("validation_failed", `generic.events holds at most ${MAX_EVENTS_PER_REQUEST} events`);
  return items.map((item, i) => genericEvent(item, "generic", message && `${message}:${i}`));
};
