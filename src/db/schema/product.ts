// Product core: mirrors db/migrations 0003_product_core.sql.
import { sql } from "drizzle-orm";
import { bigint, boolean, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { workspaces } from "./tenancy.ts";

export const issues = pgTable(
  "issues",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    status: text("status").notNull().default("open"),
    severity: text("severity").notNull().default("medium"),
    source: text("source"),
    fingerprint: text("fingerprint"),
    reporterEmail: text("reporter_email"),
    createdBy: text("created_by"),
    metadata: jsonb("metadata").notNull().default(sql`'{}'::jsonb`),
    clusterId: text("cluster_id"),
    resolution: text("resolution"),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().default(sql`now()`),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().default(sql`now()`),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const clusters = pgTable(
  "clusters",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    label: text("label").notNull(),
    algorithm: text("algorithm").notNull().default("fingerprint"),
    issueIds: text("issue_ids").array().notNull().default(sql`'{}'::text[]`),
    centroid: jsonb("centroid"),
    template: text("template").notNull().default(""),
    eventCount: bigint("event_count", { mode: "number" }).notNull().default(0),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true }),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    services: text("services").array().notNull().default(sql`'{}'::text[]`),
    corrected: boolean("corrected").notNull().default(false),
    mergedInto: text("merged_into"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const patterns = pgTable(
  "patterns",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    clusterId: text("cluster_id"),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    status: text("status").notNull().default("active"),
    riskScore: numeric("risk_score", { precision: 5, scale: 4 }).notNull().default("0"),
    signature: jsonb("signature").notNull().default(sql`'{}'::jsonb`),
    createdBy: text("created_by"),
    kind: text("kind").notNull().default("manual"),
    evidence: jsonb("evidence").notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const predictions = pgTable(
  "predictions",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    patternId: text("pattern_id").notNull(),
    issueId: text("issue_id"),
    probability: numeric("probability", { precision: 5, scale: 4 }).notNull(),
    horizonHours: integer("horizon_hours").notNull().default(24),
    explanation: text("explanation").notNull().default(""),
    model: text("model"),
    clusterId: text("cluster_id"),
    windowStart: timestamp("window_start", { withTimezone: true }),
    windowEnd: timestamp("window_end", { withTimezone: true }),
    outcome: text("outcome").notNull().default("pending"),
    scoredAt: timestamp("scored_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const recommendations = pgTable(
  "recommendations",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    issueId: text("issue_id"),
    patternId: text("pattern_id"),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    status: text("status").notNull().default("proposed"),
    decidedBy: text("decided_by"),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    kind: text("kind").notNull().default("manual"),
    clusterId: text("cluster_id"),
    evidence: jsonb("evidence").notNull().default(sql`'{}'::jsonb`),
    dedupKey: text("dedup_key"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const activityEvents = pgTable(
  "activity_events",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    issueId: text("issue_id"),
    actorId: text("actor_id"),
    actorType: text("actor_type").notNull().default("user"),
    kind: text("kind").notNull(),
    payload: jsonb("payload").notNull().default(sql`'{}'::jsonb`),
    clusterId: text("cluster_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

// Mirrors db/migrations 0035_ingestion.sql: normalized events from inbound webhooks and imports.
export const ingestedEvents = pgTable(
  "ingested_events",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    inboundWebhookId: text("inbound_webhook_id"),
    source: text("source").notNull(),
    vendorEventId: text("vendor_event_id").notNull(),
    fingerprint: text("fingerprint").notNull(),
    title: text("title").notNull(),
    message: text("message").notNull().default(""),
    service: text("service"),
    environment: text("environment"),
    severity: text("severity").notNull(),
    status: text("status").notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull(),
    link: text("link"),
    issueId: text("issue_id"),
    activityEventId: text("activity_event_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const clusterEngineStates = pgTable(
  "cluster_engine_states",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull().default("engine"),
    version: bigint("version", { mode: "number" }).notNull().default(0),
    snapshot: jsonb("snapshot").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
