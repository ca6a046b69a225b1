// The relay: mirrors db/migrations/0041_relay.sql (relay tokens, the relays' connections, queries through them).
import { sql } from "drizzle-orm";
import { boolean, inet, integer, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { workspaces } from "./tenancy.ts";

const workspaceId = () =>
  text("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" });
const at = (name: string) => timestamp(name, { withTimezone: true });
const createdAt = () => at("created_at").notNull().default(sql`now()`);

export const relayTokens = pgTable(
  "relay_tokens",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    tokenPrefix: text("token_prefix").notNull(),
    tokenHash: text("token_hash").notNull(),
    createdBy: text("created_by"),
    createdAt: createdAt(),
    rotatedAt: at("rotated_at"),
    lastUsedAt: at("last_used_at"),
    revokedAt: at("revoked_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const relaySessions = pgTable(
  "relay_sessions",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    tokenId: text("token_id").notNull(),
    instanceId: text("instance_id").notNull(),
    agentVersion: text("agent_version").notNull(),
    databases: jsonb("databases").notNull().default(sql`'[]'::jsonb`),
    remoteIp: inet("remote_ip"),
    connectedAt: at("connected_at").notNull().default(sql`now()`),
    lastHeartbeatAt: at("last_heartbeat_at").notNull().default(sql`now()`),
    disconnectedAt: at("disconnected_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const relayQueries = pgTable(
  "relay_queries",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    connectorId: text("connector_id").notNull(),
    sessionId: text("session_id").notNull(),
    targetInstance: text("target_instance").notNull(),
    request: jsonb("request"),
    status: text("status").notNull().default("pending"),
    response: jsonb("response"),
    store: boolean("store").notNull().default(false),
    fingerprint: text("fingerprint"),
    rowCount: integer("row_count"),
    durationMs: integer("duration_ms"),
    requestedBy: text("requested_by"),
    createdAt: createdAt(),
    finishedAt: at("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
