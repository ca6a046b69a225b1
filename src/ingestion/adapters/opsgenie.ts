// Opsgenie's outgoing webhook integration: one event per alert action (Create, Close, Escalate, ...), grouped
// by the alert's alias (Opsgenie's own de-duplication key). https://support.atlassian.com/opsgenie/docs/integrate-opsgenie-with-webhook/
import { linkOf, Reader, severityOf, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

const FIRING = new Set(["Create", "Escalate", "UnAcknowledge", "EscalateNext", "IncreasePriority", "Reopen"]);
const RESOLVED = new Set(["Close", "Delete"]);

/** Opsgenie's times are epoch numbers in seconds, milliseconds or nanoseconds depending on the field. */
function epoch(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) return undefined;
  const ms = value > 1e17 ? value / 1e6 : value > 1e14 ? value / 1e3 : value > 1e11 ? value : value * 1000;
  return new Date(ms).toISOString();
}

export const opsgenie: Adapter = ({ body }) => {
  const root = Reader.of(body, "opsgenie");
  const action = root.str("action", 50);
  if (!FIRING.has(action) && !RESOLVED.has(action)) return [];
  const alert = root.obj("alert");
  const id = alert.str("alertId", 100);
  const details = alert.optObj("details");
  const changed = alert.value.updatedAt ?? alert.value.createdAt;
  return [
    {
      source: "opsgenie",
      event_id: `${id}:${action}:${typeof changed === "number" ? changed : ""}`,
      fingerprint: `alias:${alert.optStr("alias", 300) ?? id}`,
      title: alert.str("message"),
      message: alert.optStr("description", 10_000) ?? "",
      service: details?.optStr("service", 200) ?? alert.optStr("entity", 200),
      environment: details?.optStr("environment", 200) ?? null,
      severity: severityOf(alert.optStr("priority"), "medium"),
      status: RESOLVED.has(action) ? "resolved" : "firing",
      occurred_at: timeOr(epoch(alert.value.updatedAt), epoch(alert.value.createdAt)),
      link: linkOf(details?.optStr("link", 2000) ?? null),
    },
  ];
};
