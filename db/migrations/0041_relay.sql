-- The relay (causeloop relay): an agent in a customer's network dials out to /v1/relay/connect with a relay
-- token, offers its databases, and answers read-only queries with masked results. Every table is a tenant
-- table under forced RLS; relay tokens are stored as sha256 hashes like personal access tokens.

-- A workspace's relay tokens: each authenticates one relay agent of that workspace and nothing else.
CREATE TABLE relay_tokens (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  token_prefix  text NOT NULL,
  token_hash    text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  rotated_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX relay_tokens_ws_hash_idx ON relay_tokens (workspace_id, token_hash);
CREATE UNIQUE INDEX relay_tokens_ws_name_idx ON relay_tokens (workspace_id, name) WHERE revoked_at IS NULL;
SELECT protect_tenant_table('relay_tokens');

-- One row per connection of a relay: which serve instance holds its socket (queries reaching another instance
-- are routed to that one through relay_requests), what it offers, when it last said it was alive.
CREATE TABLE relay_sessions (
  workspace_id       text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                 text NOT NULL,
  token_id           text NOT NULL,
  instance_id        text NOT NULL,
  agent_version      text NOT NULL,
  databases          jsonb NOT NULL DEFAULT '[]'::jsonb,
  remote_ip          inet,
  connected_at       timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  disconnected_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, token_id) REFERENCES relay_tokens (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX relay_sessions_ws_token_idx ON relay_sessions (workspace_id, token_id, connected_at DESC);
SELECT protect_tenant_table('relay_sessions');

-- Queries through a relay: the record of each one (who, what shape, outcome) and, while a query crosses
-- instances, its hand-off. The result is kept only when the caller asked for it (store) and is always the
-- masked result the relay sent.
CREATE TABLE relay_queries (
  workspace_id     text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id               text NOT NULL,
  connector_id     text NOT NULL,
  session_id       text NOT NULL,
  target_instance  text NOT NULL,
  request          jsonb,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'refused', 'failed')),
  response         jsonb,
  store            boolean NOT NULL DEFAULT false,
  fingerprint      text,
  row_count        integer,
  duration_ms      integer,
  requested_by     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, connector_id) REFERENCES connectors (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX relay_queries_ws_connector_idx ON relay_queries (workspace_id, connector_id, id DESC);
CREATE INDEX relay_queries_pending_idx ON relay_queries (workspace_id, target_instance) WHERE status = 'pending' AND request IS NOT NULL;
SELECT protect_tenant_table('relay_queries');

-- The instance holding a relay's socket finds the queries handed to it in any workspace (a notification says
-- which; this is the poll that catches a lost one), then enters each workspace through the tenant door.
CREATE OR REPLACE FUNCTION relay_pending_queries(p_instance text, p_limit integer)
  RETURNS TABLE (workspace_id text, id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT q.workspace_id, q.id FROM relay_queries q
   WHERE q.target_instance = p_instance AND q.status = 'pending' AND q.request IS NOT NULL
   ORDER BY q.created_at LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION relay_pending_queries(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION relay_pending_queries(text, integer) TO causeloop_app;
