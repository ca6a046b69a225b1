// Encryption keys, orchestration and idempotency: mirrors db/migrations 0006_keys_and_orchestration.sql
// (plus scheduler_runs from 0011_scheduler_and_retention.sql).
import { sql } from "drizzle-orm";
import { integer, jsonb, pgTable, primaryKey, text, timestamp, unique } from "drizzle-orm/pg-core";
import { workspaces } from "./tenancy.ts";

export const workspaceKeys = pgTable(
  "workspace_keys",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    version: integer("version").notNull(),
    kekVersion: integer("kek_version").notNull(),
    wrappedDek: text("wrapped_dek").notNull(),
    status: text("status").notNull().default("active"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    rotatedAt: timestamp("rotated_at", { withTimezone: true }),
    destroyedAt: timestamp("destroyed_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const workflowRuns = pgTable(
  "workflow_runs",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    workflow: text("workflow").notNull(),
    issueId: text("issue_id"),
    status: text("status").notNull().default("pending"),
    input: jsonb("input").notNull().default(sql`'{}'::jsonb`),
    output: jsonb("output"),
    error: text("error"),
    triggeredBy: text("triggered_by"),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const jobs = pgTable(
  "jobs",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    kind: text("kind").notNull(),
    payload: jsonb("payload").notNull().default(sql`'{}'::jsonb`),
    status: text("status").notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAt: timestamp("run_at", { withTimezone: true }).notNull().default(sql`now()`),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastError: text("last_error"),
    result: jsonb("result"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Idempotency-Key answers (0027_idempotency_keys.sql), per workspace and credential; the answer sealed. */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    credentialHash: text("credential_hash").notNull(),
    key: text("key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    status: text("status").notNull().default("running"),
    responseStatus: integer("response_status"),
    responseType: text("response_type"),
    responseLocation: text("response_location"),
    responseBodyEncrypted: text("response_body_encrypted"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] }), unique().on(t.workspaceId, t.credentialHash, t.key)],
);

/** The embedded scheduler's run history (0011_scheduler_and_retention.sql); global, no tenant data. */
export const schedulerRuns = pgTable("scheduler_runs", {
  id: text("id").primaryKey(),
  job: text("job").notNull(),
  slot: timestamp("slot", { withTimezone: true }).notNull(),
  trigger: text("trigger").notNull().default("schedule"),
  instance: text("instance").notNull(),
  outcome: text("outcome").notNull().default("running"),
  counts: jsonb("counts").notNull().default(sql`'{}'::jsonb`),
  error: text("error"),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().default(sql`now()`),
  finishedAt: timestamp("finished_at", { withTimezone: true }),
});
