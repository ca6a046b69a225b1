// Security alerting: mirrors db/migrations 0032_security_alerts.sql.
import { sql } from "drizzle-orm";
import { boolean, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { workspaces } from "./tenancy.ts";

export const securityAlertRules = pgTable("security_alert_rules", {
  rule: text("rule").primaryKey(),
  description: text("description").notNull(),
  threshold: integer("threshold").notNull(),
  windowSeconds: integer("window_seconds").notNull(),
  severity: text("severity").notNull(),
  enabled: boolean("enabled").notNull().default(true),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

const alertColumns = () => ({
  rule: text("rule").notNull(),
  severity: text("severity").notNull().default("medium"),
  summary: text("summary").notNull(),
  details: jsonb("details").notNull().default(sql`'{}'::jsonb`),
  dedupKey: text("dedup_key").notNull(),
  occurrences: integer("occurrences").notNull().default(1),
  status: text("status").notNull().default("open"),
  firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().default(sql`now()`),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().default(sql`now()`),
  acknowledgedBy: text("acknowledged_by"),
  acknowledgedAt: timestamp("acknowledged_at", { withTimezone: true }),
  ackNote: text("ack_note"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

export const securityAlerts = pgTable(
  "security_alerts",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    ...alertColumns(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const operatorAlerts = pgTable("operator_alerts", {
  id: text("id").primaryKey(),
  ...alertColumns(),
  notifiedAt: timestamp("notified_at", { withTimezone: true }),
  notifyAttempts: integer("notify_attempts").notNull().default(0),
});
