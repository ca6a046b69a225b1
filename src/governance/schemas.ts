// The governance routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";
import { RTBF_STATUSES } from "./rtbf.ts";

export const Export = component(
  "Export",
  t.Object({
    id: t.String({ examples: ["exp_01jd0000000000000000000000"] }),
    status: t.Union(["queued", "running", "completed", "failed", "expired", "revoked"].map((s) => t.Literal(s))),
    format: t.String({ examples: ["ndjson"] }),
    size_bytes: Nullable(t.Number()),
    sha256: Nullable(t.String()),
    manifest: t.Unknown({ description: "Files, row counts and checksums, once built" }),
    error: Nullable(t.String()),
    created_at: Timestamp,
    completed_at: Nullable(Timestamp),
    expires_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
    revoked_reason: Nullable(t.String({ description: "An erasure's request id when one deleted the archive" })),
    storage_kind: t.Optional(Nullable(t.String())),
    download: t.Optional(
      t.Object({
        url: t.String({ description: "A signed link; works without a token until expires_at" }),
        expires_at: Timestamp,
      }),
    ),
  }),
);
export const ExportPage = component("ExportPage", Page(Export));

export const ErasureRequest = component(
  "ErasureRequest",
  t.Object({
    id: t.String({ examples: ["rtbf_01jd0000000000000000000000"] }),
    subject_ref: t.String({ description: "HMAC of the subject's email: the email itself is never stored here" }),
    mode: t.String({ examples: ["erasure"] }),
    status: t.Union(RTBF_STATUSES.map((s) => t.Literal(s))),
    reason: Nullable(t.String()),
    status_reason: Nullable(t.String()),
    received_at: Timestamp,
    due_at: Timestamp,
    overdue: t.Boolean(),
    decided_at: Nullable(Timestamp),
    completed_at: Nullable(Timestamp),
    result: t.Unknown({ description: "Rows erased per table, once completed" }),
    vacuum_status: Nullable(t.Union([t.Literal("pending"), t.Literal("completed")])),
    vacuum_tables: Nullable(t.Array(t.String())),
    vacuumed_at: Nullable(Timestamp),
  }),
);
export const ErasureRequestPage = component("ErasureRequestPage", Page(ErasureRequest));

export const ErasureCertificate = component(
  "ErasureCertificate",
  t.Object({
    request_id: t.String(),
    certificate: t.String({ description: "A compact JWS (EdDSA); verify with GET /v1/audit/public-key" }),
    issued_at: Timestamp,
  }),
);

const Windows = t.Object({
  issue_retention_days: t.Integer(),
  activity_retention_days: t.Integer(),
  prediction_retention_days: t.Integer(),
  audit_log_retention_days: t.Integer(),
});
export const Retention = component(
  "Retention",
  t.Object({ configured: Windows, effective: Windows, audit_log_floor_days: t.Integer() }),
);

export const ComplianceEntry = component(
  "ComplianceEntry",
  t.Object({
    id: t.String(),
    kind: t.String({ examples: ["retention.run", "rtbf.completed", "export.created"] }),
    subject_ref: Nullable(t.String()),
    actor_id: Nullable(t.String()),
    details: t.Unknown(),
    created_at: Timestamp,
  }),
);
export const ComplianceLogPage = component("ComplianceLogPage", Page(ComplianceEntry));
