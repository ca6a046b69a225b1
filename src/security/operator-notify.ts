// The operator's alerts, sent to the operator's own destination (CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL): each
// new alert once, as `{type: "operator.alert", timestamp, data}` signed per Standard Webhooks when a secret is
// set (webhook-id = the alert id, so a resend is recognisable), through the outbound guard; a failure is tried
// again on the next tick until it goes through. The runtime role reaches the pending alerts only through two
// SECURITY DEFINER functions (migration 0032): it reads no more of the operator's table.
import type { Queryable } from "../db/engine.ts";
import type { Logger } from "../log.ts";
import { guardedFetch } from "../net/fetch.ts";
import type { OutboundPolicy } from "../net/policy.ts";
import { signedHeaders } from "../delivery/signing.ts";

interface Pending {
  id: string;
  rule: string;
  severity: string;
  summary: string;
  details: unknown;
  first_seen_at: Date;
  notify_attempts: number;
}

/** Sends every operator alert not yet sent; returns how many went through. */
export async function notifyOperatorAlerts(
  db: Queryable,
  target: { url: string; secret: string | undefined },
  policy: OutboundPolicy,
  logger: Logger,
): Promise<number> {
  const pending = await db.query<Pending>("select * from operator_alerts_to_notify(20)");
  let sent = 0;
  for (const alert of pending) {
    const body = JSON.stringify({
      type: "operator.alert",
      timestamp: new Date().toISOString(),
      data: {
        id: alert.id,
        rule: alert.rule,
        severity: alert.severity,
        summary: alert.summary,
        details: typeof alert.details === "string" ? JSON.parse(alert.details) : alert.details,
        first_seen_at: new Date(alert.first_seen_at).toISOString(),
      },
    });
    let ok = false;
    let error = "";
    try {
      const response = await guardedFetch(
        target.url,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(target.secret ? signedHeaders(alert.id, body, [target.secret]) : { "webhook-id": alert.id }),
          },
          body,
          redirect: "manual",
        },
        policy,
      );
      ok = response.status >= 200 && response.status < 300;
      error = `HTTP ${response.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    await db.query("select operator_alert_notified($1, $2)", [alert.id, ok]);
    if (ok) sent++;
    else logger.warn("operator_alert.notify_failed", { alert_id: alert.id, attempt: alert.notify_attempts + 1, error });
  }
  return sent;
}
