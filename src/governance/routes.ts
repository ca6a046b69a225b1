// /v1/governance: retention settings and the compliance log (scopes governance:read / governance:write,
// which only admins and owners hold).
import { Elysia, t } from "elysia";
import type { authPlugin, Caller } from "../identity/auth.ts";
import type { Actor } from "../incidents/service.ts";
import { getRetention, MAX_RETENTION_DAYS, updateRetention } from "./retention.ts";
import { listComplianceLog } from "./compliance.ts";
import { AppError } from "../errors.ts";
import { certificate, getRequest, listRequests, submitRequest, transition, type RtbfKeys } from "./rtbf.ts";

const actorOf = (c: Caller): Actor => ({ workspaceId: c.principal.workspaceId, actorId: c.principal.actorId, actorType: c.principal.actorType, context: c.context });
const Days = t.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS });

const RequestId = t.Object({ id: t.String({ pattern: "^rtbf_[0-9a-z]{26}$" }) });
const Reason = t.Object({ reason: t.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

export interface RtbfDeps {
  keys: RtbfKeys;
  /** Commits `processing`, then runs the erasure in its own transaction (built by the composition root). */
  approve: (actor: Actor, id: string) => Promise<unknown>;
}

export function governanceRoutes(auth: ReturnType<typeof authPlugin>, rtbf?: RtbfDeps) {
  const needRtbf = () => {
    if (!rtbf) throw new AppError("internal", "erasure requests need the server's signing and HMAC keys");
    return rtbf;
  };
  const base = new Elysia({ name: "governance", prefix: "/v1/governance" }).use(auth);
  const withRtbf = base
    .post("/rtbf/requests", ({ caller, body, set }) => {
      set.status = 201;
      return caller.tenant((tx) => submitRequest(tx, needRtbf().keys, actorOf(caller), body));
    }, {
      scope: "governance:write",
      body: t.Object({ email: t.String({ format: "email", maxLength: 254 }), mode: t.Optional(t.Literal("erasure")), reason: t.Optional(t.String({ maxLength: 2000 })) }, { additionalProperties: false }),
      detail: { summary: "Submit a GDPR Art. 17 erasure request (the email becomes an HMAC subject_ref; due in 30 days)", tags: ["governance"] },
    })
    .get("/rtbf/requests", ({ caller, query }) => caller.tenant((tx) => listRequests(tx, caller.principal.workspaceId, { status: query.status, overdue: query.overdue === "true" })), {
      scope: "governance:read",
      query: t.Object({ status: t.Optional(t.String({ maxLength: 20 })), overdue: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
      detail: { summary: "List erasure requests by due date", tags: ["governance"] },
    })
    .get("/rtbf/requests/:id", ({ caller, params }) => caller.tenant((tx) => getRequest(tx, caller.principal.workspaceId, params.id)), { scope: "governance:read", params: RequestId, detail: { summary: "Get an erasure request", tags: ["governance"] } })
    .post("/rtbf/requests/:id/verify", ({ caller, params }) => caller.tenant((tx) => transition(tx, actorOf(caller), params.id, "verifying")), { scope: "governance:write", params: RequestId, detail: { summary: "Mark the request as being verified", tags: ["governance"] } })
    .post("/rtbf/requests/:id/hold", ({ caller, params, body }) => caller.tenant((tx) => transition(tx, actorOf(caller), params.id, "on_hold", body.reason)), { scope: "governance:write", params: RequestId, body: Reason, detail: { summary: "Put the request on hold (reason required)", tags: ["governance"] } })
    .post("/rtbf/requests/:id/reject", ({ caller, params, body }) => caller.tenant((tx) => transition(tx, actorOf(caller), params.id, "rejected", body.reason)), { scope: "governance:write", params: RequestId, body: Reason, detail: { summary: "Reject the request (reason required)", tags: ["governance"] } })
    .post("/rtbf/requests/:id/approve", ({ caller, params }) => needRtbf().approve(actorOf(caller), params.id), { scope: "governance:write", params: RequestId, detail: { summary: "Approve and execute the erasure; completes with a signed certificate", tags: ["governance"] } })
    .get("/rtbf/requests/:id/certificate", ({ caller, params }) => caller.tenant((tx) => certificate(tx, caller.principal.workspaceId, params.id)), { scope: "governance:read", params: RequestId, detail: { summary: "The erasure certificate (a JWS signed with the server's Ed25519 key); completed requests only", tags: ["governance"] } });
  return withRtbf
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
