// /v1/governance: retention settings and the compliance log (scopes governance:read / governance:write,
// which only admins and owners hold).
import { Elysia, t } from "elysia";
import type { authPlugin } from "../identity/auth.ts";
import type { Actor } from "../audit/service.ts";
import { getRetention, MAX_RETENTION_DAYS, updateRetention } from "./retention.ts";
import { listComplianceLog } from "./compliance.ts";
import { AppError } from "../errors.ts";
import { certificate, getRequest, listRequests, submitRequest, transition, type RtbfKeys } from "./rtbf.ts";
import { exportStorageKey, getExport, listExports, requestExport, type ExportView } from "./exports.ts";
import type { ArchiveStore } from "./storage.ts";
import { downloadableExport } from "./export-revocation.ts";
import type { TenantDoor } from "../db/tenant.ts";

type Tx = Parameters<Parameters<TenantDoor>[1]>[0];
import type { ExportLinks } from "./export-links.ts";

const Days = t.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS });

const RequestId = t.Object({ id: t.String({ pattern: "^rtbf_[0-9a-z]{26}$" }) });
const Reason = t.Object({ reason: t.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

export interface ExportDeps {
  links: ExportLinks;
  /** Where archives are stored: the data dir's exports/ by default, or an S3 bucket. */
  store: ArchiveStore;
  /** The door by workspace id, for the public download route that authenticates by signature. */
  door: TenantDoor;
}

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
    async ({ params, query }) => {
      if (!exports.links.verify(query.ws, params.id, query.exp, query.sig))
        throw new AppError("forbidden", "the download link is invalid or has expired; ask for a new one");
      const { view, key } = await exports.door(query.ws, (tx) => downloadableExport(tx, query.ws, params.id));
      const file = key && exports.store.kind === "local" ? Bun.file(key) : undefined;
      if (view.status !== "completed" || !file || !(await file.exists()))
        throw new AppError("not_found", `export ${params.id} is not available`);
      return new Response(file, {
        headers: {
          "content-type": "application/gzip",
          "content-disposition": `attachment; filename="${params.id}.tar.gz"`,
          "x-content-sha256": view.sha256 ?? "",
        },
      });
    },
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
        security: [],
      },
    },
  );
}

export function governanceRoutes(auth: ReturnType<typeof authPlugin>, rtbf?: RtbfDeps, exports?: ExportDeps) {
  const withLink = async (tx: Tx, view: ExportView, ws: string) => {
    if (view.status !== "completed" || !exports) return view;
    const key = await exportStorageKey(tx, ws, view.id);
    return key ? { ...view, download: exports.store.link(ws, view.id, key) } : view;
  };
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
        },
      },
    )
    .get(
      "/exports",
      ({ caller }) =>
        caller.tenant(async (tx) =>
          Promise.all(
            (await listExports(tx, caller.principal.workspaceId)).map((v) =>
              withLink(tx, v, caller.principal.workspaceId),
            ),
          ),
        ),
      { scope: "governance:read", detail: { summary: "List exports", tags: ["governance"] } },
    )
    .get(
      "/exports/:id",
      ({ caller, params }) =>
        caller.tenant(async (tx) =>
          withLink(tx, await getExport(tx, caller.principal.workspaceId, params.id), caller.principal.workspaceId),
        ),
      {
        scope: "governance:read",
        params: ExportId,
        detail: {
          summary: "Export status, size, sha256 and, when complete, a download link that expires",
          tags: ["governance"],
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
        },
      },
    )
    .get(
      "/rtbf/requests",
      ({ caller, query }) =>
        caller.tenant((tx) =>
          listRequests(tx, caller.principal.workspaceId, { status: query.status, overdue: query.overdue === "true" }),
        ),
      {
        scope: "governance:read",
        query: t.Object({
          status: t.Optional(t.String({ maxLength: 20 })),
          overdue: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
        }),
        detail: { summary: "List erasure requests by due date", tags: ["governance"] },
      },
    )
    .get(
      "/rtbf/requests/:id",
      ({ caller, params }) => caller.tenant((tx) => getRequest(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "governance:read",
        params: RequestId,
        detail: { summary: "Get an erasure request", tags: ["governance"] },
      },
    )
    .post(
      "/rtbf/requests/:id/verify",
      ({ caller, params }) => caller.tenant((tx) => transition(tx, caller.actor, params.id, "verifying")),
      {
        scope: "governance:write",
        params: RequestId,
        detail: { summary: "Mark the request as being verified", tags: ["governance"] },
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
        detail: { summary: "Put the request on hold (reason required)", tags: ["governance"] },
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
        detail: { summary: "Reject the request (reason required)", tags: ["governance"] },
      },
    )
    .post("/rtbf/requests/:id/approve", ({ caller, params }) => needRtbf().approve(caller.actor, params.id), {
      scope: "governance:write",
      params: RequestId,
      detail: { summary: "Approve and execute the erasure; completes with a signed certificate", tags: ["governance"] },
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
        },
      },
    );
  return withRtbf
    .get("/retention", ({ caller }) => caller.tenant((tx) => getRetention(tx, caller.principal.workspaceId)), {
      scope: "governance:read",
      detail: {
        summary: "Retention windows: configured and effective (the audit log never goes below 365 days)",
        tags: ["governance"],
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
      detail: { summary: "Change retention windows", tags: ["governance"] },
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
      detail: { summary: "Alias of POST /v1/governance/exports", tags: ["governance"] },
    },
  );
}
