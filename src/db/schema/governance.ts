// Governance: mirrors db/migrations 0005_governance.sql (plus offboarding_records from 0007_tenant_lifecycle.sql,
// audit_checkpoints from 0009_audit_checkpoints.sql, export_jobs.file_name from 0013_job_queue.sql and the operator
// log from 0014_operator_log.sql).
import { sql } from "drizzle-orm";
import { bigint, inet, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { workspaces } from "./tenancy.ts";

export const auditLog = pgTable(
  "audit_log",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    action: text("action").notNull(),
    actorId: text("actor_id"),
    actorType: text("actor_type").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    before: jsonb("before"),
    after: jsonb("after"),
    traceId: text("trace_id"),
    ip: inet("ip"),
    userAgent: text("user_agent"),
    prevHash: text("prev_hash"),
    hash: text("hash"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Audit events committed and not yet chained (migration 0043): the sequencer moves them into audit_log. */
export const auditQueue = pgTable(
  "audit_queue",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    action: text("action").notNull(),
    actorId: text("actor_id"),
    actorType: text("actor_type").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    before: jsonb("before"),
    after: jsonb("after"),
    traceId: text("trace_id"),
    ip: inet("ip"),
    userAgent: text("user_agent"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const exportJobs = pgTable(
  "export_jobs",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    status: text("status").notNull().default("queued"),
    format: text("format").notNull().default("ndjson"),
    requestedBy: text("requested_by"),
    storageKind: text("storage_kind"),
    storageKey: text("storage_key"),
    sizeBytes: bigint("size_bytes", { mode: "number" }),
    sha256: text("sha256"),
    manifest: jsonb("manifest"),
    error: text("error"),
    startedAt: timestamp("started_at", { withTimezone: true }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    // 0013_job_queue.sql
    fileName: text("file_name"),
    // 0018_erasure_reach.sql
    erasureEpoch: integer("erasure_epoch").notNull().default(0),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    revokedReason: text("revoked_reason"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const rtbfRequests = pgTable(
  "rtbf_requests",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    subjectRef: text("subject_ref").notNull(),
    subjectEmail: text("subject_email"),
    mode: text("mode").notNull().default("erasure"),
    status: text("status").notNull().default("received"),
    reason: text("reason"),
    statusReason: text("status_reason"),
    requestedBy: text("requested_by"),
    decidedBy: text("decided_by"),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().default(sql`now()`),
    dueAt: timestamp("due_at", { withTimezone: true }).notNull().default(sql`now() + interval '30 days'`),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    result: jsonb("result"),
    certificate: text("certificate"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    // 0018_erasure_reach.sql
    vacuumStatus: text("vacuum_status"),
    vacuumTables: text("vacuum_tables").array(),
    vacuumedAt: timestamp("vacuumed_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const complianceLog = pgTable(
  "compliance_log",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    kind: text("kind").notNull(),
    subjectRef: text("subject_ref"),
    actorId: text("actor_id"),
    details: jsonb("details").notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Global record of tenant offboarding (0007_tenant_lifecycle.sql); outlives the tenant, so no FK. */
export const offboardingRecords = pgTable("offboarding_records", {
  id: text("id").primaryKey(),
  organizationId: text("organization_id").notNull(),
  slug: text("slug").notNull(),
  mode: text("mode").notNull(),
  status: text("status").notNull().default("completed"),
  workspaceIds: text("workspace_ids").array().notNull(),
  rowCounts: jsonb("row_counts").notNull().default(sql`'{}'::jsonb`),
  performedBy: text("performed_by").notNull(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().default(sql`now()`),
  completedAt: timestamp("completed_at", { withTimezone: true }),
});

/** Signed checkpoints of the audit hash chain (0009_audit_checkpoints.sql). */
export const auditCheckpoints = pgTable(
  "audit_checkpoints",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    hash: text("hash").notNull(),
    keyId: text("key_id").notNull(),
    signature: text("signature").notNull(),
    signedAt: text("signed_at").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Global, hash-chained log of operator actions that belong to no single workspace (0014_operator_log.sql). */
export const operatorLog = pgTable("operator_log", {
  id: text("id").primaryKey(),
  seq: bigint("seq", { mode: "number" }).notNull().unique(),
  action: text("action").notNull(),
  actorId: text("actor_id"),
  actorType: text("actor_type").notNull().default("operator"),
  targetType: text("target_type"),
  targetId: text("target_id"),
  before: jsonb("before"),
  after: jsonb("after"),
  traceId: text("trace_id"),
  ip: inet("ip"),
  userAgent: text("user_agent"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  prevHash: text("prev_hash"),
  hash: text("hash").notNull(),
});

/** Signed checkpoints of the operator log (0014_operator_log.sql). */
export const operatorLogCheckpoints = pgTable("operator_log_checkpoints", {
  seq: bigint("seq", { mode: "number" }).primaryKey(),
  hash: text("hash").notNull(),
  keyId: text("key_id").notNull(),
  signature: text("signature").notNull(),
  signedAt: text("signed_at").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
});
