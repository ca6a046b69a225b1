-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a POST or PATCH sent again with the same key
-- by the same credential gets the first answer back instead of running twice. Scoped to workspace and
-- credential (a sha256 of the bearer token), under forced RLS like every tenant table. The stored answer is
-- sealed with the workspace's key (it can hold a secret shown once, such as a new token). Rows expire after
-- CAUSELOOP_IDEMPOTENCY_TTL_HOURS (24 h by default); the retention job deletes them.
-- 0006 created a first draft of this table that nothing ever wrote (unique per workspace only, the answer in
-- clear): replaced.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
  workspace_id              text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  id                        text NOT NULL,
  credential_hash           text NOT NULL CHECK (credential_hash ~ '^[0-9a-f]{64}$'),
  key                       text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  fingerprint               text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  status                    text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
  response_status           integer,
  response_type             text,
  response_location         text,
  response_body_encrypted   text,
  created_at                timestamptz NOT NULL DEFAULT now(),
  completed_at              timestamptz,
  expires_at                timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, credential_hash, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (workspace_id, expires_at);
SELECT protect_tenant_table('idempotency_keys');
