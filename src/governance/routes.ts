// /v1/governance: retention settings and the compliance log (scopes governance:read / governance:write,
// which only admins and owners hold).
import { Elysia, t } from "elysia";
import type { authPlugin, Caller } from "../identity/auth.ts";
import type { Actor } from "../incidents/service.ts";
import { getRetention, MAX_RETENTION_DAYS, updateRetention } from "./retention.ts";
import { listComplianceLog } from "./compliance.ts";

const actorOf = (c: Caller): Actor => ({ workspaceId: c.principal.workspaceId, actorId: c.principal.actorId, actorType: c.principal.actorType, context: c.context });
const Days = t.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS });

export function governanceRoutes(auth: ReturnType<typeof authPlugin>) {
  return new Elysia({ name: "governance", prefix: "/v1/governance" })
    .use(auth)
    .get("/retention", ({ caller }) => caller.tenant((tx) => getRetention(tx, caller.principal.workspaceId)), {
      scope: "governance:read",
      detail: { summary: "Retention windows: configured and effective (the audit log never goes below 365 days)", tags: ["governance"] },
    })
    .patch("/retention", ({ caller, body }) => caller.tenant((tx) => updateRetention(tx, actorOf(caller), body)), {
      scope: "governance:write",
      body: t.Object({ issue_retention_days: t.Optional(Days), activity_retention_days: t.Optional(Days), prediction_retention_days: t.Optional(Days), audit_log_retention_days: t.Optional(Days) }, { additionalProperties: false, minProperties: 1 }),
      detail: { summary: "Change retention windows", tags: ["governance"] },
    })
    .get("/compliance-log", ({ caller, query }) => caller.tenant((tx) => listComplianceLog(tx, caller.principal.workspaceId, query)), {
      scope: "governance:read",
      query: t.Object({
        kind: t.Optional(t.String({ maxLength: 40 })),
        from: t.Optional(t.String({ maxLength: 40 })),
        to: t.Optional(t.String({ maxLength: 40 })),
        limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
        cursor: t.Optional(t.String({ maxLength: 200 })),
      }),
      detail: { summary: "Retention runs, erasure transitions, exports and offboardings, newest first (keyset pagination)", tags: ["governance"] },
    });
}
