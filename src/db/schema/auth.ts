// Auth surface: mirrors db/migrations 0002_auth_surface.sql (plus personal_access_tokens.revoked_reason from
// 0007_tenant_lifecycle.sql, sessions.mfa_verified and auth_throttle from 0010_identity.sql, its trust and
// expiry from 0020_attempt_throttle.sql).
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  inet,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import { users, workspaces } from "./tenancy.ts";

export const serviceAccounts = pgTable(
  "service_accounts",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    name: text("name").notNull(),
    role: text("role").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const personalAccessTokens = pgTable(
  "personal_access_tokens",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    serviceAccountId: text("service_account_id"),
    name: text("name").notNull(),
    tokenPrefix: text("token_prefix").notNull(),
    patHash: text("pat_hash").notNull(),
    role: text("role").notNull(),
    scopes: text("scopes").array().notNull().default(sql`'{}'::text[]`),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    // 0007_tenant_lifecycle.sql
    revokedReason: text("revoked_reason"),
    // 0039_scim_and_access_reviews.sql
    rotatedTo: text("rotated_to"),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const sessions = pgTable(
  "sessions",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    familyId: text("family_id").notNull(),
    refreshTokenHash: text("refresh_token_hash").notNull(),
    replacedBy: text("replaced_by"),
    ip: inet("ip"),
    userAgent: text("user_agent"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }).notNull().default(sql`now()`),
    idleExpiresAt: timestamp("idle_expires_at", { withTimezone: true }).notNull(),
    absoluteExpiresAt: timestamp("absolute_expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    // 0010_identity.sql
    mfaVerified: boolean("mfa_verified").notNull().default(false),
    // 0016_account_identity.sql
    authMethod: text("auth_method").notNull().default("password"),
    authenticatedAt: timestamp("authenticated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const mfaFactors = pgTable(
  "mfa_factors",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind").notNull().default("totp"),
    secretEncrypted: text("secret_encrypted").notNull(),
    recoveryCodeHashes: text("recovery_code_hashes").array().notNull().default(sql`'{}'::text[]`),
    confirmedAt: timestamp("confirmed_at", { withTimezone: true }),
    lastUsedStep: bigint("last_used_step", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

export const ssoConnections = pgTable(
  "sso_connections",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    provider: text("provider").notNull(),
    displayName: text("display_name").notNull(),
    issuer: text("issuer").notNull(),
    audience: text("audience"),
    jwksUrl: text("jwks_url"),
    clientId: text("client_id"),
    clientSecretEncrypted: text("client_secret_encrypted"),
    jitProvisioning: boolean("jit_provisioning").notNull().default(false),
    defaultRole: text("default_role").notNull().default("viewer"),
    status: text("status").notNull().default("active"),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    // 0038_sso.sql
    metadataUrl: text("metadata_url"),
    ssoUrl: text("sso_url"),
    idpCertificate: text("idp_certificate"),
    groupsClaim: text("groups_claim").notNull().default("groups"),
    roleMapping: jsonb("role_mapping").notNull().default(sql`'[]'::jsonb`),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** A single sign-on in flight (0038_sso.sql): consumed by its callback, removed when expired. */
export const ssoLoginStates = pgTable(
  "sso_login_states",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    connectionId: text("connection_id").notNull(),
    stateHash: text("state_hash").notNull(),
    nonce: text("nonce"),
    codeVerifier: text("code_verifier"),
    linkUserId: text("link_user_id").references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** SAML assertion ids already used (0038_sso.sql), kept until the assertion expires. */
export const ssoAssertionIds = pgTable(
  "sso_assertion_ids",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    connectionId: text("connection_id").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** Identity-provider identities linked per connection (0016_account_identity.sql). */
export const ssoIdentities = pgTable(
  "sso_identities",
  {
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    connectionId: text("connection_id").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    lastLoginAt: timestamp("last_login_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.id] })],
);

/** The account's second factor (0016_account_identity.sql); global, reached only through auth_mfa_* functions. */
export const userMfaFactors = pgTable("user_mfa_factors", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  id: text("id").notNull().unique(),
  kind: text("kind").notNull().default("totp"),
  secretWrapped: text("secret_wrapped").notNull(),
  kekVersion: integer("kek_version").notNull(),
  recoveryCodeHashes: text("recovery_code_hashes").array().notNull().default(sql`'{}'::text[]`),
  confirmedAt: timestamp("confirmed_at", { withTimezone: true }),
  lastUsedStep: bigint("last_used_step", { mode: "number" }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

/** Brute-force throttling (0010_identity.sql, 0020_attempt_throttle.sql); global, keyed by a sha256. */
export const authThrottle = pgTable("auth_throttle", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  lastFailureAt: timestamp("last_failure_at", { withTimezone: true }),
  lockedUntil: timestamp("locked_until", { withTimezone: true }),
  trustedUntil: timestamp("trusted_until", { withTimezone: true }),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull().default(sql`now()`),
});

/** Rate-limit budgets shared by every instance (0023_rate_limits.sql); global, keyed by a sha256. */
export const rateLimitBuckets = pgTable("rate_limit_buckets", {
  key: text("key").primaryKey(),
  tokens: doublePrecision("tokens").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
});
