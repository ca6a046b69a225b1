// Integrations: mirrors db/migrations 0004_integrations.sql, 0030_delivery.sql and 0033_audit_streams.sql.
import { sql } from "drizzle-orm";
import { bigint, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { connectorCatalogue, workspaces } from "./tenancy.ts";

export const connectors = pgTable(
  "connectors",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    type: text("type")
      .notNull()
      .references(() => connectorCatalogue.slug),
    displayName: text("display_name").notNull(),
    status: text("status").notNull().default("pending"),
    configEncrypted: text("config_encrypted"),
    settings: jsonb("settings").notNull().default(sql`'{}'::jsonb`),
    lastSyncedAt: timestamp("last_synced_at", { withTimezone: true }),
    lastError: text("last_error"),
    failureCount: integer("failure_count").notNull().default(0),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const webhooks = pgTable(
  "webhooks",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    url: text("url").notNull(),
    events: text("events").array().notNull().default(sql`'{}'::text[]`),
    secretEncrypted: text("secret_encrypted"),
    status: text("status").notNull().default("active"),
    failureCount: integer("failure_count").notNull().default(0),
    lastDeliveryAt: timestamp("last_delivery_at", { withTimezone: true }),
    createdBy: text("created_by"),
    circuitOpenUntil: timestamp("circuit_open_until", { withTimezone: true }),
    circuitOpens: integer("circuit_opens").notNull().default(0),
    secretPreviousEncrypted: text("secret_previous_encrypted"),
    secretPreviousUntil: timestamp("secret_previous_until", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    webhookId: text("webhook_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    payload: jsonb("payload").notNull(),
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().default(sql`now()`),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    deadAt: timestamp("dead_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const inboundWebhooks = pgTable(
  "inbound_webhooks",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    connectorId: text("connector_id"),
    source: text("source").notNull(),
    pathTokenHash: text("path_token_hash").notNull(),
    signingSecretEncrypted: text("signing_secret_encrypted").notNull(),
    status: text("status").notNull().default("active"),
    lastReceivedAt: timestamp("last_received_at", { withTimezone: true }),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const auditStreams = pgTable(
  "audit_streams",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    url: text("url").notNull(),
    format: text("format").notNull().default("json"),
    tokenEncrypted: text("token_encrypted"),
    batchSize: integer("batch_size").notNull().default(500),
    cursorSeq: bigint("cursor_seq", { mode: "number" }).notNull().default(0),
    status: text("status").notNull().default("active"),
    failureCount: integer("failure_count").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().default(sql`now()`),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    lastSentAt: timestamp("last_sent_at", { withTimezone: true }),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
