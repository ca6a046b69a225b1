// Provisioning and review: mirrors db/migrations/0039_scim_and_access_reviews.sql (SCIM tokens, users, groups
// and their members; access reviews and their lines).
import { sql } from "drizzle-orm";
import { boolean, jsonb, pgTable, primaryKey, text, timestamp, unique } from "drizzle-orm/pg-core";
import { users, workspaces } from "./tenancy.ts";

const workspaceId = () =>
  text("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" });
const at = (name: string) => timestamp(name, { withTimezone: true });
const createdAt = () => at("created_at").notNull().default(sql`now()`);

export const scimTokens = pgTable(
  "scim_tokens",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    role: text("role").notNull().default("admin"),
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

export const scimUsers = pgTable(
  "scim_users",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    userName: text("user_name").notNull(),
    externalId: text("external_id"),
    displayName: text("display_name"),
    attributes: jsonb("attributes").notNull().default(sql`'{}'::jsonb`),
    active: boolean("active").notNull().default(true),
    createdAt: createdAt(),
    updatedAt: at("updated_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const scimGroups = pgTable(
  "scim_groups",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    displayName: text("display_name").notNull(),
    externalId: text("external_id"),
    role: text("role").notNull().default("viewer"),
    createdAt: createdAt(),
    updatedAt: at("updated_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const scimGroupMembers = pgTable(
  "scim_group_members",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull().default(sql`new_id('sgm')`),
    groupId: text("group_id").notNull(),
    scimUserId: text("scim_user_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] }), unique().on(t.workspaceId, t.groupId, t.scimUserId)],
);

export const accessReviews = pgTable(
  "access_reviews",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    status: text("status").notNull().default("open"),
    createdBy: text("created_by"),
    createdAt: createdAt(),
    completedBy: text("completed_by"),
    completedAt: at("completed_at"),
    result: jsonb("result"),
    signature: text("signature"),
    keyId: text("key_id"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const accessReviewItems = pgTable(
  "access_review_items",
  {
    workspaceId: workspaceId(),
    id: text("id").notNull(),
    reviewId: text("review_id").notNull(),
    kind: text("kind").notNull(),
    targetId: text("target_id").notNull(),
    details: jsonb("details").notNull().default(sql`'{}'::jsonb`),
    decision: text("decision"),
    decidedBy: text("decided_by"),
    decidedAt: at("decided_at"),
    appliedAt: at("applied_at"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);
