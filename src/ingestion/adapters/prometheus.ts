// Alertmanager's webhook payload (version 4), which Grafana's unified alerting extends: one event per alert of
// the group, keyed by the alert's fingerprint. https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
// and https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
import type { NormalizedEvent } from "../event.ts";
import { linkOf, Reader, severityOf, timeOr } from "./read.ts";

const text = (labels: Reader | undefined, ...keys: string[]): string | null => {
  for (const key of keys) {
    const value = labels?.optStr(key, 200);
    if (value) return value;
  }
  return null;
};

/** The alerts of an Alertmanager-shaped payload, `link` choosing the best URL of each alert. */
export function prometheusAlerts(
  body: unknown,
  source: string,
  link: (alert: Reader, root: Reader) => string | null,
): NormalizedEvent[] {
  const root = Reader.of(body, source);
  return root.list("alerts").map((alert) => {
    const labels = alert.optObj("labels");
    const annotations = alert.optObj("annotations");
    const status = alert.optStr("status") === "resolved" ? "resolved" : "firing";
    const startsAt = alert.optTime("startsAt");
    const endsAt = alert.optTime("endsAt");
    const fingerprint = alert.optStr("fingerprint", 200);
    const name = text(labels, "alertname") ?? "alert";
    const at = status === "resolved" ? timeOr(endsAt, startsAt) : timeOr(startsAt);
    return {
      source,
      // The same alert is sent again on every repeat interval: one event per firing (and one per resolution).
      event_id: `${fingerprint ?? name}:${status}:${status === "resolved" ? at : timeOr(startsAt)}`,
      fingerprint,
      title: text(annotations, "summary", "title") ?? name,
      message: annotations?.optStr("description", 10_000) ?? annotations?.optStr("message", 10_000) ?? "",
      service: text(labels, "service", "job", "app"),
      environment: text(labels, "env", "environment", "namespace"),
      severity: severityOf(text(labels, "severity", "priority"), "high"),
      status,
      occurred_at: at,
      link: linkOf(link(alert, root)),
    };
  });
}
