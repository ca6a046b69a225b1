// /v1/governance: retention settings and the compliance log (scopes governance:read / governance:write,
// which only admins and owners hold).
import { Elysia, t } from "elysia";
import type { authPlugin } from "../identity/auth.ts";
import type { Actor } from "../audit/service.ts";
import { getRetention, MAX_RETENTION_DAYS, updateRetention } from "./retention.ts";
import { listComplianceLog } from "./compliance.ts";
import { AppError } from "../errors.ts";
import { certificate, getRequest, listRequests, submitRequest, transition, type RtbfKeys } from "./rtbf.ts";
import { requestExport } from "./exports.ts";
import { getLinkedExport, listLinkedExports, openDownload, type ExportDeps } from "./downloads.ts";
import { PageQuery, responses } from "../http/contract.ts";
import {
  ComplianceLogPage,
  ErasureCertificate,
  ErasureRequest,
  ErasureRequestPage,
  Export,
  ExportPage,
  Retention,
} from "./schemas.ts";

export type { ExportDeps } from "./downloads.ts";

const Days = t.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS });

const RequestId = t.Object({ id: t.String({ pattern: "^rtbf_[0-9a-z]{26}$" }) });
const Reason = t.Object({ reason: t.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

export interface RtbfDeps {
  keys: RtbfKeys;
  /** Commits `processing`, then runs the erasure in its own transaction (built by the composition root). */
  approve: (actor: Actor, id: string) => Promise<unknown>;
}

const ExportId = t.Object({ id: t.String({ pattern: "^exp_[0-9a-z]{26}$" }) });

/** The public download route: authenticated by the link's signature, not by a token. */
export function exportDownloadRoutes(exports: ExportDeps) {
  return new Elysia({ name: "export-download" }).get(
    "/v1/exports/:id/download",
    ({ params, query }) => openDownload(exports, params.id, query),
    {
      params: ExportId,
      query: t.Object({
        ws: t.String({ pattern: "^ws_[0-9a-z]{26}$" }),
        exp: t.String({ maxLength: 12 }),
        sig: t.String({ maxLength: 100 }),
      }),
      detail: {
        summary: "Download a finished export through its signed, expiring link",
        tags: ["governance"],
        responses: responses(
          {
            200: {
              description: "The archive (.tar.gz of NDJSON files and a manifest)",
              contentType: "application/gzip",
              schema: t.String({ format: "binary" }),
              headers: {
                "X-Content-SHA256": { description: "The archive's SHA-256 (hex)", schema: { type: "string" } },
              },
            },
          },
          [403, 404, 410],
        ),
        security: [],
      },
    },
  );
}

export function governanceRoutes(auth: ReturnType<typeof authPlugin>, rtbf?: RtbfDeps, exports?: ExportDeps) {
  const needRtbf = () => {
    if (!rtbf) throw new AppError("internal", "erasure requests need the server's signing and HMAC keys");
    return rtbf;
  };
  const base = new Elysia({ name: "governance", prefix: "/v1/governance" })
    .use(auth)
    .post(
      "/exports",
      ({ caller, set }) => {
        set.status = 202;
        return caller.tenant((tx) => requestExport(tx, caller.actor));
      },
      {
        scope: "governance:write",
        detail: {
          summary:
            "Request a full export of the workspace's data (a job builds a .tar.gz of NDJSON files and a manifest)",
          tags: ["governance"],
          responses: responses({ 202: Export }),
        },
      },
    )
    .get(
      "/exports",
      ({ caller, query }) =>
        caller.tenant((tx) => listLinkedExports(tx, exports?.store, caller.principal.workspaceId, query)),
      {
        scope: "governance:read",
        query: t.Object(PageQuery),
        detail: { summary: "List exports", tags: ["governance"], responses: responses({ 200: ExportPage }) },
      },
    )
    .get(
      "/exports/:id",
      ({ caller, params }) =>
        caller.tenant((tx) => getLinkedExport(tx, exports?.store, caller.principal.workspaceId, params.id)),
      {
        scope: "governance:read",
        params: ExportId,
        detail: {
          summary: "Export status, size, sha256 and, when complete, a download link that expires",
          tags: ["governance"],
          responses: responses({ 200: Export }),
        },
      },
    );
  const withRtbf = base
    .post(
      "/rtbf/requests",
      ({ caller, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => submitRequest(tx, needRtbf().keys, caller.actor, body));
      },
      {
        scope: "governance:write",
        body: t.Object(
          {
            email: t.String({ format: "email", maxLength: 254 }),
            mode: t.Optional(t.Literal("erasure")),
            reason: t.Optional(t.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Submit a GDPR Art. 17 erasure request (the email becomes an HMAC subject_ref; due in 30 days)",
          tags: ["governance"],
          responses: responses({ 201: ErasureRequest }, [409]),
        },
      },
    )
    .get(
      "/rtbf/requests",
      ({ caller, query }) =>
        caller.tenant((tx) =>
          listRequests(tx, caller.principal.workspaceId, { ...query, overdue: query.overdue === "true" }),
        ),
      {
        scope: "governance:read",
        query: t.Object({
          status: t.Optional(t.String({ maxLength: 20 })),
          overdue: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
          ...PageQuery,
        }),
        detail: {
          summary: "List erasure requests in the order received (the soonest due first)",
          tags: ["governance"],
          responses: responses({ 200: ErasureRequestPage }),
        },
      },
    )
    .get(
      "/rtbf/requests/:id",
      ({ caller, params }) => caller.tenant((tx) => getRequest(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "governance:read",
        params: RequestId,
        detail: {
          summary: "Get an erasure request",
          tags: ["governance"],
          responses: responses({ 200: ErasureRequest }),
        },
      },
    )
    .post(
      "/rtbf/requests/:id/verify",
      ({ caller, params }) => caller.tenant((tx) => transition(tx, caller.actor, params.id, "verifying")),
      {
        scope: "governance:write",
        params: RequestId,
        detail: {
          summary: "Mark the request as being verified",
          tags: ["governance"],
          responses: responses({ 200: ErasureRequest }, [409]),
        },
      },
    )
    .post(
      "/rtbf/requests/:id/hold",
      ({ caller, params, body }) =>
        caller.tenant((tx) => transition(tx, caller.actor, params.id, "on_hold", body.reason)),
      {
        scope: "governance:write",
        params: RequestId,
        body: Reason,
        detail: {
          summary: "Put the request on hold (reason required)",
          tags: ["governance"],
          responses: responses({ 200: ErasureRequest }, [409]),
        },
      },
    )
    .post(
      "/rtbf/requests/:id/reject",
      ({ caller, params, body }) =>
        caller.tenant((tx) => transition(tx, caller.actor, params.id, "rejected", body.reason)),
      {
        scope: "governance:write",
        params: RequestId,
        body: Reason,
        detail: {
          summary: "Reject the request (reason required)",
          tags: ["governance"],
          responses: responses({ 200: ErasureRequest }, [409]),
        },
      },
    )
    .post("/rtbf/requests/:id/approve", ({ caller, params }) => needRtbf().approve(caller.actor, params.id), {
      scope: "governance:write",
      params: RequestId,
      detail: {
        summary: "Approve and execute the erasure; completes with a signed certificate",
        tags: ["governance"],
        responses: responses({ 200: ErasureRequest }, [409]),
      },
    })
    .get(
      "/rtbf/requests/:id/certificate",
      ({ caller, params }) => caller.tenant((tx) => certificate(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "governance:read",
        params: RequestId,
        detail: {
          summary: "The erasure certificate (a JWS signed with the server's Ed25519 key); completed requests only",
          tags: ["governance"],
          responses: responses({ 200: ErasureCertificate }, [409]),
        },
      },
    );
  return withRtbf
    .get("/retention", ({ caller }) => caller.tenant((tx) => getRetention(tx, caller.principal.workspaceId)), {
      scope: "governance:read",
      detail: {
        summary: "Retention windows: configured and effective (the audit log never goes below 365 days)",
        tags: ["governance"],
        responses: responses({ 200: Retention }),
      },
    })
    .patch("/retention", ({ caller, body }) => caller.tenant((tx) => updateRetention(tx, caller.actor, body)), {
      scope: "governance:write",
      body: t.Object(
        {
          issue_retention_days: t.Optional(Days),
          activity_retention_days: t.Optional(Days),
          prediction_retention_days: t.Optional(Days),
          audit_log_retention_days: t.Optional(Days),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      detail: { summary: "Change retention windows", tags: ["governance"], responses: responses({ 200: Retention }) },
    })
    .get(
      "/compliance-log",
      ({ caller, query }) => caller.tenant((tx) => listComplianceLog(tx, caller.principal.workspaceId, query)),
      {
        scope: "governance:read",
        query: t.Object({
          kind: t.Optional(t.String({ maxLength: 40 })),
          from: t.Optional(t.String({ maxLength: 40 })),
          to: t.Optional(t.String({ maxLength: 40 })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
          cursor: t.Optional(t.String({ maxLength: 200 })),
        }),
        detail: {
          summary: "Retention runs, erasure transitions, exports and offboardings, newest first (keyset pagination)",
          tags: ["governance"],
          responses: responses({ 200: ComplianceLogPage }),
        },
      },
    );
}

/** The seed's alias: POST /v1/gdpr/export-requests does what POST /v1/governance/exports does. */
export function gdprAliasRoutes(auth: ReturnType<typeof authPlugin>) {
  return new Elysia({ name: "gdpr-alias" }).use(auth).post(
    "/v1/gdpr/export-requests",
    ({ caller, set }) => {
      set.status = 202;
      return caller.tenant((tx) => requestExport(tx, caller.actor));
    },
    {
      scope: "governance:write",
      body: t.Optional(t.Object({ format: t.Optional(t.Union([t.Literal("json"), t.Literal("ndjson")])) })),
      detail: {
        summary: "Alias of POST /v1/governance/exports",
        tags: ["governance"],
        responses: responses({ 202: Export }),
      },
    },
  );
}
