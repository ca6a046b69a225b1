// Datadog webhooks integration: the default payload ($ID, $EVENT_TITLE, $EVENT_MSG, $DATE, $LAST_UPDATED,
// $EVENT_TYPE, $ORG_ID) plus the monitor variables the README asks to add ($ALERT_ID, $ALERT_TRANSITION,
// $ALERT_TYPE, $AGGREG_KEY, $ALERT_PRIORITY, $LINK, $TAGS). https://docs.datadoghq.com/integrations/webhooks/
import { linkOf, Reader, severityOf, timeOr } from "./read.ts";
import type { Adapter } from "./types.ts";

/** `$TAGS` is "key:value,key:value". */
function tagValue(tags: string | null, key: string): string | null {
  for (const part of (tags ?? "").split(",")) {
    const [name, ...rest] = part.trim().split(":");
    if (name === key && rest.length) return rest.join(":").slice(0, 200);
  }
  return null;
}

export const datadog: Adapter = ({ body }) => {
  const root = Reader.of(body, "datadog");
  const title = root.str("title");
  const transition = root.optStr("alert_transition") ?? /^\[(\w+)\]/.exec(title)?.[1] ?? null;
  const resolved = transition !== null && /^recover/i.test(transition);
  const tags = root.optStr("tags", 2000);
  const alertId = root.optStr("alert_id", 100);
  const key = root.optStr("aggreg_key", 200) ?? (alertId ? `monitor:${alertId}` : null);
  return [
    {
      source: "datadog",
      event_id: root.str("id", 100),
      fingerprint: key,
      title: title.replace(/^\[(Triggered|Recovered|Re-Triggered|Warn|No Data)[^\]]*\]\s*/i, "") || title,
      message: root.optStr("body", 10_000) ?? "",
      service: tagValue(tags, "service"),
      environment: tagValue(tags, "env"),
      severity: resolved ? "info" : severityOf(root.optStr("priority") ?? root.optStr("alert_type"), "high"),
      status: resolved ? "resolved" : "firing",
      occurred_at: timeOr(root.optTime("date"), root.optTime("last_updated")),
      link: linkOf(root.optStr("link", 2000)),
    },
  ];
};
