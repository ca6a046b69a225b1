// The declarative erasure map: for every column that can hold a data subject's email or user id, what
// right-to-be-forgotten does there. A test fails when a column whose name suggests personal data is
// neither mapped here nor listed in NOT_PERSONAL with its reason.

export type ErasureAction = "delete_row" | "null" | "pseudonymize";

export interface ErasureRule {
  table: string;
  column: string;
  /** What the column holds for the subject: their user id or their email address. */
  matches: "user_id" | "email";
  action: ErasureAction;
  /**
   * A table that refuses direct changes (append-only evidence) is changed through its own function instead,
   * called with (workspace id, the subject's value, the pseudonym) and returning the rows it changed.
   */
  via?: string;
}

export const ERASURE_MAP: ErasureRule[] = [
  // The account's presence in this workspace.
  { table: "memberships", column: "user_id", matches: "user_id", action: "delete_row" },
  { table: "personal_access_tokens", column: "user_id", matches: "user_id", action: "delete_row" },
  { table: "sessions", column: "user_id", matches: "user_id", action: "delete_row" },
  { table: "mfa_factors", column: "user_id", matches: "user_id", action: "delete_row" },
  { table: "sso_identities", column: "user_id", matches: "user_id", action: "delete_row" },
  // What the identity provider sent about them (its group memberships go with it).
  { table: "scim_users", column: "user_id", matches: "user_id", action: "delete_row" },
  { table: "sso_login_states", column: "link_user_id", matches: "user_id", action: "delete_row" },
  // Incidents they reported or created.
  { table: "issues", column: "reporter_email", matches: "email", action: "null" },
  { table: "issues", column: "created_by", matches: "user_id", action: "pseudonymize" },
  // What they did: the record stays, the person behind it does not.
  { table: "activity_events", column: "actor_id", matches: "user_id", action: "pseudonymize" },
  { table: "patterns", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "recommendations", column: "decided_by", matches: "user_id", action: "pseudonymize" },
  { table: "connectors", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "webhooks", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "inbound_webhooks", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "sso_connections", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "service_accounts", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "personal_access_tokens", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "memberships", column: "invited_by", matches: "user_id", action: "pseudonymize" },
  { table: "export_jobs", column: "requested_by", matches: "user_id", action: "pseudonymize" },
  { table: "rtbf_requests", column: "requested_by", matches: "user_id", action: "pseudonymize" },
  { table: "rtbf_requests", column: "decided_by", matches: "user_id", action: "pseudonymize" },
  { table: "workflow_runs", column: "triggered_by", matches: "user_id", action: "pseudonymize" },
  { table: "security_alerts", column: "acknowledged_by", matches: "user_id", action: "pseudonymize" },
  { table: "audit_streams", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "scim_tokens", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "relay_tokens", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "relay_queries", column: "requested_by", matches: "user_id", action: "pseudonymize" },
  { table: "access_reviews", column: "created_by", matches: "user_id", action: "pseudonymize" },
  { table: "access_reviews", column: "completed_by", matches: "user_id", action: "pseudonymize" },
  { table: "access_review_items", column: "decided_by", matches: "user_id", action: "pseudonymize" },
  {
    table: "compliance_log",
    column: "actor_id",
    matches: "user_id",
    action: "pseudonymize",
    via: "compliance_log_pseudonymize",
  },
];

/** Columns whose names look personal but hold none of a subject's data, with the reason. */
export const NOT_PERSONAL: Record<string, string> = {
  "audit_log.actor_id":
    "append-only evidence: keeps the opaque id, which no longer resolves to a person once the user row is erased",
  "audit_log.actor_type": "a kind of actor, not an identity",
  "audit_queue.actor_id":
    "an audit event waiting (seconds) to be chained into audit_log, which keeps the same opaque id (see audit_log.actor_id)",
  "audit_queue.actor_type": "a kind of actor, not an identity",
  "operator_log.actor_id":
    "the operator's login or database role (the service provider's staff, not a tenant's data subject); append-only evidence",
  "operator_log.actor_type": "a kind of actor, not an identity",
  "activity_events.actor_type": "a kind of actor, not an identity",
  "users.email":
    "the global account: deleted with the user when this was their last workspace, else kept for their other workspaces",
  "users.display_name": "as users.email",
  "rtbf_requests.subject_email": "the request's own working copy, cleared when the request completes or is rejected",
  "organizations.name": "a company, not a person",
  "workspaces.name": "a workspace label",
  "service_accounts.name": "a machine identity",
  "personal_access_tokens.name": "a token label",
  "patterns.name": "an incident pattern",
  "connectors.display_name": "an integration label",
  "sso_connections.display_name": "an identity provider label",
  "connector_catalogue.name": "a product name (global reference data)",
  "jobs.locked_by": "a worker instance id",
  "webhook_deliveries.locked_by": "a delivery worker instance id",
  "audit_streams.locked_by": "a streamer instance id",
  "operator_alerts.acknowledged_by": "the operator's login (the service provider's staff, not a tenant's data subject)",
  "offboarding_records.performed_by": "the operator's OS account (global operator record, no tenant's data subject)",
  "schema_migrations.applied_by": "the database role that applied a migration",
  "schema_migrations.name": "a migration file name",
  "sessions.replaced_by": "the id of the session that replaced this one",
  "users.email_verified_at": "as users.email",
  "export_jobs.file_name": "an archive file name",
  "scim_tokens.name": "a token label",
  "relay_tokens.name": "a relay's label (it names the relay's connectors)",
  "scim_users.user_name": "deleted with its row (scim_users.user_id is delete_row)",
  "scim_users.display_name": "as scim_users.user_name",
  "scim_groups.display_name": "a group label from the identity provider",
};

/** Column names that suggest personal data (the test enumerates the catalog with this). */
export const PERSONAL_COLUMN = /(email|_by$|^actor|reporter|(^|_)name$)/;
