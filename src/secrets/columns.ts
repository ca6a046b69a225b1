// Every *_encrypted column and the table it belongs to (rows keyed by (workspace_id, id)). rotate-dek
// re-encrypts exactly these; a test fails when a column named *_encrypted is missing here.
export const ENCRYPTED_COLUMNS = [
  { table: "connectors", column: "config_encrypted" },
  { table: "webhooks", column: "secret_encrypted" },
  { table: "webhooks", column: "secret_previous_encrypted" },
  { table: "inbound_webhooks", column: "signing_secret_encrypted" },
  { table: "mfa_factors", column: "secret_encrypted" },
  { table: "sso_connections", column: "client_secret_encrypted" },
  { table: "idempotency_keys", column: "response_body_encrypted" },
  { table: "audit_streams", column: "token_encrypted" },
] as const;

export type EncryptedColumn = (typeof ENCRYPTED_COLUMNS)[number];
