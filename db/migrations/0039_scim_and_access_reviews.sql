-- Enterprise identity, provisioning side: SCIM 2.0 (RFC 7643/7644) per workspace, personal access token
-- rotation, and access reviews. Every table is a tenant table under forced RLS; SCIM tokens are stored as
-- sha256 hashes like personal access tokens.

-- A workspace's SCIM bearer tokens: they reach /scim/v2 of their workspace and nothing else. `role` is the
-- authority of whoever created it: an admin's token cannot deprovision or re-role an owner.
CREATE TABLE scim_tokens (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  role          text NOT NULL DEFAULT 'admin' CHECK (role IN ('owner', 'admin')),
  token_prefix  text NOT NULL,
  token_hash    text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  rotated_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX scim_tokens_ws_hash_idx ON scim_tokens (workspace_id, token_hash);
SELECT protect_tenant_table('scim_tokens');

-- A provisioned user: the workspace's view of a (global) account, kept while the account is deactivated so
-- the identity provider can reactivate it. The account's own email, password and name are never changed by
-- SCIM: user_name, emails and names here are what the provider sent.
CREATE TABLE scim_users (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_name     text NOT NULL CHECK (length(user_name) BETWEEN 1 AND 254),
  external_id   text CHECK (length(external_id) <= 255),
  display_name  text,
  attributes    jsonb NOT NULL DEFAULT '{}'::jsonb,
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, user_id)
);
CREATE UNIQUE INDEX scim_users_ws_user_name_idx ON scim_users (workspace_id, lower(user_name));
CREATE INDEX scim_users_ws_external_idx ON scim_users (workspace_id, external_id);
CREATE TRIGGER scim_users_touch BEFORE UPDATE ON scim_users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('scim_users');

-- A provisioned group and the role its members get in the workspace (never owner).
CREATE TABLE scim_groups (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 255),
  external_id   text CHECK (length(external_id) <= 255),
  role          text NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'analyst', 'viewer')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX scim_groups_ws_name_idx ON scim_groups (workspace_id, lower(display_name));
CREATE TRIGGER scim_groups_touch BEFORE UPDATE ON scim_groups FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('scim_groups');

CREATE TABLE scim_group_members (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL DEFAULT new_id('sgm'),
  group_id      text NOT NULL,
  scim_user_id  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, group_id, scim_user_id),
  FOREIGN KEY (workspace_id, group_id) REFERENCES scim_groups (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, scim_user_id) REFERENCES scim_users (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX scim_group_members_ws_user_idx ON scim_group_members (workspace_id, scim_user_id);
SELECT protect_tenant_table('scim_group_members');

-- Rotation: the successor's id on the rotated token (which stays valid until its shortened expiry).
ALTER TABLE personal_access_tokens ADD COLUMN rotated_to text;
ALTER TABLE personal_access_tokens DROP CONSTRAINT IF EXISTS personal_access_tokens_revoked_reason_check;
ALTER TABLE personal_access_tokens ADD CONSTRAINT personal_access_tokens_revoked_reason_check
  CHECK (revoked_reason IN ('revoked', 'offboarded', 'member_removed', 'expired', 'deprovisioned', 'access_review'));

-- Access reviews: a snapshot of who and what can reach the workspace, one line per grant, each decided keep
-- or revoke; completing applies the revocations and signs the result.
CREATE TABLE access_reviews (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
  created_by     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_by   text,
  completed_at   timestamptz,
  result         jsonb,
  signature      text,
  key_id         text,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX access_reviews_ws_completed_idx ON access_reviews (workspace_id, completed_at);
SELECT protect_tenant_table('access_reviews');

CREATE TABLE access_review_items (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  review_id     text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('member', 'token', 'service_account', 'sso_connection', 'scim_token')),
  target_id     text NOT NULL,
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  decision      text CHECK (decision IN ('keep', 'revoke')),
  decided_by    text,
  decided_at    timestamptz,
  applied_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, review_id) REFERENCES access_reviews (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX access_review_items_ws_review_idx ON access_review_items (workspace_id, review_id, id);
SELECT protect_tenant_table('access_review_items');

-- The scheduled reminder raises this in a workspace whose last completed access review is too old.
INSERT INTO security_alert_rules (rule, description, threshold, window_seconds, severity) VALUES
  ('access_review_due', 'No access review completed within the review interval', 1, 60, 'medium')
ON CONFLICT (rule) DO NOTHING;
