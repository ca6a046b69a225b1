// PagerDuty v3 webhooks: incident events (incident.triggered, .acknowledged, .escalated, .reopened,
// .priority_updated, .resolved ...). https://developer.pagerduty.com/docs/webhooks-overview
import { linkOf, Reader, severityOf, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

/** Events that say nothing about whether the incident is still happening. */
const IGNORED = new Set([
  "incident.annotated",
  "incident.delegated",
  "incident.reassigned",
  "incident.responder.added",
  "incident.responder.replied",
  "incident.status_update_published",
  "incident.workflow.started",
  "incident.workflow.completed",
]);

export const pagerduty: Adapter = ({ body }) => {
  const event = Reader.of(body, "pagerduty").obj("event");
  const type = event.str("event_type", 100);
  if (event.str("resource_type", 50) !== "incident" || IGNORED.has(type)) return [];
  const incident = event.obj("data");
  const priority = incident.optObj("priority")?.optStr("summary");
  const urgency = incident.optStr("urgency");
  return [
    {
      source: "pagerduty",
      event_id: event.str("id", 100),
      fingerprint: `incident:${incident.str("id", 100)}`,
      title: incident.str("title"),
      message: incident.optStr("description", 10_000) ?? "",
      service: incident.optObj("service")?.optStr("summary", 200) ?? null,
      environment: null,
      severity: priority ? severityOf(priority) : urgency === "low" ? "low" : "high",
      status: type === "incident.resolved" ? "resolved" : "firing",
      occurred_at: timeOr(event.optTime("occurred_at"), incident.optTime("created_at")),
      link: linkOf(incident.optStr("html_url", 2000)),
    },
  ];
};
