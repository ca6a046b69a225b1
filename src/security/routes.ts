// /v1/security-alerts: a workspace's security alerts, and acknowledging one with a note.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { authPlugin } from "../identity/auth.ts";
import { acknowledgeAlert, ALERT_STATUSES, listAlerts } from "./alerts.ts";
import { SecurityAlert, SecurityAlertPage } from "./schemas.ts";

export function securityAlertRoutes(auth: ReturnType<typeof authPlugin>) {
  return new Elysia({ name: "security-alerts" })
    .use(auth)
    .get(
      "/v1/security-alerts",
      ({ caller, query }) => caller.tenant((tx) => listAlerts(tx, caller.principal.workspaceId, query)),
      {
        scope: "audit:read",
        query: t.Object({ ...PageQuery, status: t.Optional(t.Union(ALERT_STATUSES.map((s) => t.Literal(s)))) }),
        detail: {
          summary: "List the workspace's security alerts, newest first",
          tags: ["security"],
          responses: responses({ 200: SecurityAlertPage }),
        },
      },
    )
    .post(
      "/v1/security-alerts/:id/acknowledge",
      ({ caller, params, body }) => caller.tenant((tx) => acknowledgeAlert(tx, caller.actor, params.id, body.note)),
      {
        scope: "audit:read",
        params: t.Object({ id: t.String({ pattern: "^alr_[0-9a-z]{26}$" }) }),
        body: t.Object({ note: t.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
        detail: {
          summary: "Acknowledge an open alert with a note (recorded in the audit trail)",
          tags: ["security"],
          responses: responses({ 200: SecurityAlert }, [409]),
        },
      },
    );
}
