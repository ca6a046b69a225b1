-- Foundation: helper functions, the runtime role, global tables and the tenant root.
--
-- Global tables (no workspace_id), the explicit list:
--   organizations       visible to the app role only through the current workspace (RLS below)
--   users               visible to the app role only through a membership in the current workspace (RLS below)
--   connector_catalogue reference data, the same for every tenant, read-only for the app role
--   schema_migrations   the migration ledger, created by the migrator, read-only for the app role
-- The tenant root `workspaces` is keyed by its own id and visible only as the current workspace.
-- Every other table carries workspace_id and is protected by protect_tenant_table().

-- The runtime role. `causeloop roles setup` gives it LOGIN and a password; here it only has to exist
-- so grants and PGlite's SET LOCAL ROLE work.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'causeloop_app') THEN
    CREATE ROLE causeloop_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO causeloop_app;

-- The current tenant of this transaction. After a rolled-back SET LOCAL the setting reads '' (not NULL),
-- so '' is folded to NULL and matches no row.
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.current_workspace', true), '') $$;

-- Prefixed, time-ordered ids in SQL (for PL/pgSQL operator functions); the same format as src/ids.ts:
-- prefix '_' then 26 lowercase Crockford base32 characters: 48 bits of milliseconds, 80 random bits.
CREATE OR REPLACE FUNCTION new_id(prefix text) RETURNS text
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  alphabet constant text := '0123456789abcdefghjkmnpqrstvwxyz';
  ms bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
  out text := '';
  i int;
BEGIN
  FOR i IN 1..10 LOOP
    out := substr(alphabet, (ms % 32)::int + 1, 1) || out;
    ms := ms / 32;
  END LOOP;
  FOR i IN 1..16 LOOP
    out := out || substr(alphabet, floor(random() * 32)::int + 1, 1);
  END LOOP;
  RETURN prefix || '_' || out;
END $$;

-- Enables and forces RLS on a tenant table, (re)creates the four policies and grants DML to the app role.
-- Every migration that adds a tenant table calls it; `causeloop doctor` fails on any table it missed.
CREATE OR REPLACE FUNCTION protect_tenant_table(tbl regclass) RETURNS void
  LANGUAGE plpgsql
AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_select ON %s', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_insert ON %s', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_update ON %s', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_delete ON %s', tbl);
  EXECUTE format('CREATE POLICY tenant_select ON %s FOR SELECT USING (workspace_id = (SELECT app_current_tenant()))', tbl);
  EXECUTE format('CREATE POLICY tenant_insert ON %s FOR INSERT WITH CHECK (workspace_id = (SELECT app_current_tenant()))', tbl);
  EXECUTE format('CREATE POLICY tenant_update ON %s FOR UPDATE USING (workspace_id = (SELECT app_current_tenant())) WITH CHECK (workspace_id = (SELECT app_current_tenant()))', tbl);
  EXECUTE format('CREATE POLICY tenant_delete ON %s FOR DELETE USING (workspace_id = (SELECT app_current_tenant()))', tbl);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO causeloop_app', tbl);
END $$;

-- Keeps updated_at true on every UPDATE.
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- ---------------------------------------------------------------- global

CREATE TABLE organizations (
  id          text PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE users (
  id                   text PRIMARY KEY,
  email                text NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' IN email) > 1),
  display_name         text,
  password_hash        text,
  password_changed_at  timestamptz,
  email_verified_at    timestamptz,
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  last_login_at        timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz
);
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE connector_catalogue (
  slug          text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9_-]*$'),
  name          text NOT NULL,
  category      text NOT NULL CHECK (category IN ('error_tracking', 'alerting', 'observability', 'source_control', 'issue_tracking', 'chat', 'database_relay', 'cloud')),
  auth_kind     text NOT NULL CHECK (auth_kind IN ('api_key', 'oauth', 'webhook', 'relay', 'iam_role')),
  description   text NOT NULL,
  docs_url      text,
  config_schema jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON connector_catalogue TO causeloop_app;

-- ---------------------------------------------------------------- tenant root

CREATE TABLE workspaces (
  id               text PRIMARY KEY,
  organization_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  slug             text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  UNIQUE (organization_id, slug)
);
CREATE TRIGGER workspaces_touch BEFORE UPDATE ON workspaces FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_select ON workspaces FOR SELECT USING (id = (SELECT app_current_tenant()));
CREATE POLICY tenant_update ON workspaces FOR UPDATE USING (id = (SELECT app_current_tenant())) WITH CHECK (id = (SELECT app_current_tenant()));
GRANT SELECT, UPDATE (name, updated_at) ON workspaces TO causeloop_app;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_select ON organizations FOR SELECT
  USING (id = (SELECT w.organization_id FROM workspaces w WHERE w.id = (SELECT app_current_tenant())));
GRANT SELECT ON organizations TO causeloop_app;

-- ---------------------------------------------------------------- tenancy

CREATE TABLE workspace_settings (
  workspace_id               text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                         text NOT NULL,
  issue_retention_days       integer NOT NULL DEFAULT 365 CHECK (issue_retention_days BETWEEN 1 AND 3650),
  activity_retention_days    integer NOT NULL DEFAULT 90  CHECK (activity_retention_days BETWEEN 1 AND 3650),
  prediction_retention_days  integer NOT NULL DEFAULT 180 CHECK (prediction_retention_days BETWEEN 1 AND 3650),
  audit_log_retention_days   integer NOT NULL DEFAULT 365 CHECK (audit_log_retention_days BETWEEN 1 AND 3650),
  settings                   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id)
);
CREATE TRIGGER workspace_settings_touch BEFORE UPDATE ON workspace_settings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('workspace_settings');

CREATE TABLE memberships (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role          text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('invited', 'active', 'removed')),
  invited_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, user_id)
);
CREATE INDEX memberships_ws_user_idx ON memberships (workspace_id, user_id, status);
CREATE TRIGGER memberships_touch BEFORE UPDATE ON memberships FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('memberships');

-- users are visible and editable only through a membership in the current workspace.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_select ON users FOR SELECT USING (EXISTS (
  SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.workspace_id = (SELECT app_current_tenant())));
CREATE POLICY tenant_update ON users FOR UPDATE USING (EXISTS (
  SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.workspace_id = (SELECT app_current_tenant())));
GRANT SELECT, UPDATE (display_name, password_hash, password_changed_at, last_login_at, updated_at) ON users TO causeloop_app;
