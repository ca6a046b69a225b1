-- Single sign-on: OIDC (authorization code + PKCE) and SAML 2.0 connections per workspace, the short-lived
-- state of a sign-in in flight and the SAML assertion replay cache (both in the database, so any instance
-- of a stateless fleet can finish a flow another one started), and the workspace's "enforce SSO" policy.

-- What a connection needs beyond an ID-token exchange: the SAML IdP's metadata URL (fetched through the
-- outbound guard), sign-in URL and signing certificate (public material, stored as given or as fetched), the claim or attribute that carries the person's groups, and the
-- group -> role mapping ([{"group": "...", "role": "admin|analyst|viewer"}], highest matching role wins).
ALTER TABLE sso_connections ADD COLUMN metadata_url text;
ALTER TABLE sso_connections ADD COLUMN sso_url text;
ALTER TABLE sso_connections ADD COLUMN idp_certificate text;
ALTER TABLE sso_connections ADD COLUMN groups_claim text NOT NULL DEFAULT 'groups' CHECK (length(groups_claim) BETWEEN 1 AND 200);
ALTER TABLE sso_connections ADD COLUMN role_mapping jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(role_mapping) = 'array');

-- Enforce SSO: members of the workspace may not sign in with a password, except its break-glass owners.
ALTER TABLE workspaces ADD COLUMN enforce_sso boolean NOT NULL DEFAULT false;
GRANT UPDATE (enforce_sso) ON workspaces TO causeloop_app;
ALTER TABLE memberships ADD COLUMN sso_break_glass boolean NOT NULL DEFAULT false;

-- A sign-in in flight: the hash of its state (OIDC) or request id (SAML), the nonce and PKCE verifier it
-- must be finished with. Consumed (deleted) by the callback; expired rows are removed as new flows start.
CREATE TABLE sso_login_states (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  connection_id  text NOT NULL,
  state_hash     text NOT NULL,
  nonce          text,
  code_verifier  text,
  -- Set when a signed-in member started the flow to link the IdP identity to their own account.
  link_user_id   text REFERENCES users (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, state_hash),
  FOREIGN KEY (workspace_id, connection_id) REFERENCES sso_connections (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX sso_login_states_ws_expiry_idx ON sso_login_states (workspace_id, expires_at);
SELECT protect_tenant_table('sso_login_states');

-- SAML assertion ids already used, kept until the assertion itself expires: a replay is refused.
CREATE TABLE sso_assertion_ids (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  connection_id  text NOT NULL,
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, connection_id) REFERENCES sso_connections (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX sso_assertion_ids_ws_expiry_idx ON sso_assertion_ids (workspace_id, expires_at);
SELECT protect_tenant_table('sso_assertion_ids');

-- The sign-in routes carry only a connection id: this answers its workspace (an active connection of a
-- live workspace) and nothing else, so everything after it goes through the tenant door.
CREATE OR REPLACE FUNCTION auth_sso_connection_workspace(p_connection_id text) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT c.workspace_id FROM sso_connections c JOIN workspaces w ON w.id = c.workspace_id
   WHERE c.id = p_connection_id AND c.status = 'active' AND c.provider IN ('oidc', 'saml') AND w.deleted_at IS NULL
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION auth_sso_connection_workspace(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_sso_connection_workspace(text) TO causeloop_app;
