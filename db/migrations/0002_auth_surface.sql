-- Auth surface: tokens, service accounts, sessions, MFA and SSO. Secrets are stored as hashes or *_encrypted ciphertext.

CREATE TABLE service_accounts (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, name)
);
CREATE TRIGGER service_accounts_touch BEFORE UPDATE ON service_accounts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('service_accounts');

CREATE TABLE personal_access_tokens (
  workspace_id        text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                  text NOT NULL,
  user_id             text REFERENCES users (id) ON DELETE CASCADE,
  service_account_id  text,
  name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_prefix        text NOT NULL,
  pat_hash            text NOT NULL CHECK (pat_hash ~ '^[0-9a-f]{64}$'),
  role                text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
  scopes              text[] NOT NULL DEFAULT '{}',
  expires_at          timestamptz,
  last_used_at        timestamptz,
  revoked_at          timestamptz,
  created_by          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, service_account_id) REFERENCES service_accounts (workspace_id, id) ON DELETE CASCADE,
  CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
);
CREATE UNIQUE INDEX personal_access_tokens_ws_hash_idx ON personal_access_tokens (workspace_id, pat_hash);
CREATE INDEX personal_access_tokens_ws_user_idx ON personal_access_tokens (workspace_id, user_id);
CREATE INDEX personal_access_tokens_ws_sa_idx ON personal_access_tokens (workspace_id, service_account_id);
SELECT protect_tenant_table('personal_access_tokens');

CREATE TABLE sessions (
  workspace_id        text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                  text NOT NULL,
  user_id             text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id           text NOT NULL,
  refresh_token_hash  text NOT NULL CHECK (refresh_token_hash ~ '^[0-9a-f]{64}$'),
  replaced_by         text,
  ip                  inet,
  user_agent          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  last_used_at        timestamptz NOT NULL DEFAULT now(),
  idle_expires_at     timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  revoked_at          timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX sessions_ws_refresh_hash_idx ON sessions (workspace_id, refresh_token_hash);
CREATE INDEX sessions_ws_user_idx ON sessions (workspace_id, user_id);
CREATE INDEX sessions_ws_family_idx ON sessions (workspace_id, family_id);
SELECT protect_tenant_table('sessions');

CREATE TABLE mfa_factors (
  workspace_id           text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                     text NOT NULL,
  user_id                text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind                   text NOT NULL DEFAULT 'totp' CHECK (kind IN ('totp')),
  secret_encrypted       text NOT NULL,
  recovery_code_hashes   text[] NOT NULL DEFAULT '{}',
  confirmed_at           timestamptz,
  last_used_step         bigint,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, user_id, kind)
);
CREATE TRIGGER mfa_factors_touch BEFORE UPDATE ON mfa_factors FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('mfa_factors');

CREATE TABLE sso_connections (
  workspace_id             text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                       text NOT NULL,
  provider                 text NOT NULL CHECK (provider IN ('oidc', 'saml', 'jwt')),
  display_name             text NOT NULL,
  issuer                   text NOT NULL,
  audience                 text,
  jwks_url                 text,
  client_id                text,
  client_secret_encrypted  text,
  jit_provisioning         boolean NOT NULL DEFAULT false,
  default_role             text NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('admin', 'analyst', 'viewer')),
  status                   text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_by               text,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE TRIGGER sso_connections_touch BEFORE UPDATE ON sso_connections FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('sso_connections');
