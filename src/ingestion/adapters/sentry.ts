// Sentry: issue alerts (Sentry-Hook-Resource: event_alert, the rule's triggered event) and issue webhooks
// (resource issue: created, resolved, unresolved...). https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
import { AppError } from "../../errors.ts";
import type { NormalizedEvent } from "../event.ts";
import { linkOf, Reader, severityOf, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

/** Sentry's tags are [key, value] pairs. */
function tag(event: Reader, key: string): string | null {
  const tags = event.value.tags;
  if (!Array.isArray(tags)) return null;
  const pair = tags.find((t) => Array.isArray(t) && t[0] === key);
  return Array.isArray(pair) && typeof pair[1] === "string" ? pair[1] : null;
}

function alertEvent(body: Reader): NormalizedEvent {
  const event = body.obj("data").obj("event");
  const issueId = event.str("issue_id", 100);
  return {
    source: "sentry",
    event_id: event.str("event_id", 100),
    fingerprint: `issue:${issueId}`,
    title: event.str("title"),
    message: event.optStr("message", 10_000) ?? event.optStr("culprit", 10_000) ?? "",
    service: tag(event, "service") ?? event.optStr("project", 200),
    environment: event.optStr("environment", 200) ?? tag(event, "environment"),
    severity: severityOf(event.optStr("level"), "high"),
    status: "firing",
    occurred_at: timeOr(event.optTime("datetime"), event.optTime("timestamp", "s")),
    link: linkOf(event.optStr("web_url", 2000) ?? event.optStr("issue_url", 2000)),
  };
}

function issueEvent(body: Reader, requestId: string | null): NormalizedEvent[] {
  const action = body.str("action", 50);
  if (action === "assigned" || action === "archived" || action === "ignored") return [];
  const issue = body.obj("data").obj("issue");
  const id = issue.str("id", 100);
  const resolved = action === "resolved";
  const at = timeOr(issue.optTime("lastSeen"), issue.optTime("firstSeen"));
  return [
    {
      source: "sentry",
      event_id: requestId ?? `${id}:${action}:${at}`,
      fingerprint: `issue:${id}`,
      title: issue.str("title"),
      message: issue.optStr("culprit", 10_000) ?? "",
      service: issue.optObj("project")?.optStr("slug", 200) ?? null,
      environment: null,
      severity: severityOf(issue.optStr("level"), "high"),
      status: resolved ? "resolved" : "firing",
      occurred_at: resolved ? new Date().toISOString() : at,
      link: linkOf(issue.optStr("permalink", 2000) ?? issue.optStr("web_url", 2000)),
    },
  ];
}

export const sentry: Adapter = ({ body, headers }) => {
  const root = Reader.of(body, "sentry");
  const data = root.obj("data");
  if (data.has("event")) return [alertEvent(root)];
  if (data.has("issue")) return issueEvent(root, headers.get("request-id"));
  throw new AppError("validation_failed", "sentry.data holds neither an event (issue alert) nor an issue");
};
