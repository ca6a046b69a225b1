-- Tenant lifecycle: the audit append function, onboarding and offboarding of clients, and the global
-- offboarding record that outlives a purged tenant. Callable from psql by the operator (owner role):
--   SELECT onboard_client('acme', 'Acme Corp', 'ops@acme.com');
--   SELECT offboard_client('acme', 'purge');

-- ---------------------------------------------------------------- audit append

-- Appends one audit row for a workspace: a gapless per-workspace sequence and a hash chain
--   hash = sha256_hex(prev_hash || canonical)
-- where canonical (version v1) is the text 'causeloop.audit.v1' followed by, for each field in this order,
-- a newline and either '-' (NULL) or '<byte length>:<value>': workspace_id, id, seq, action, actor_id,
-- actor_type, target_type, target_id, before (jsonb text), after (jsonb text), trace_id, host(ip),
-- user_agent, created_at (UTC, YYYY-MM-DDTHH:MI:SS.ffffffZ). audit_canonical() computes it; the offline
-- verifier (scripts/verify-audit-export.ts) recomputes it from an export. Appends to one workspace are
-- serialized by a transaction-level advisory lock keyed by the workspace, so workspaces never wait for
-- each other. Runs as the caller, under RLS.
CREATE OR REPLACE FUNCTION audit_field(value text) RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$ SELECT coalesce(octet_length(value)::text || ':' || value, '-') $$;

CREATE OR REPLACE FUNCTION audit_time(at timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$ SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE OR REPLACE FUNCTION audit_canonical(a audit_log) RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$
  SELECT 'causeloop.audit.v1' || E'\n' || concat_ws(E'\n',
    audit_field(a.workspace_id), audit_field(a.id), audit_field(a.seq::text), audit_field(a.action),
    audit_field(a.actor_id), audit_field(a.actor_type), audit_field(a.target_type), audit_field(a.target_id),
    audit_field(a.before::text), audit_field(a.after::text), audit_field(a.trace_id), audit_field(host(a.ip)),
    audit_field(a.user_agent), audit_field(audit_time(a.created_at)))
$$;

CREATE OR REPLACE FUNCTION audit_append(
  ws text, p_action text, p_actor_id text, p_actor_type text, p_target_type text, p_target_id text,
  p_before jsonb DEFAULT NULL, p_after jsonb DEFAULT NULL, p_trace_id text DEFAULT NULL,
  p_ip inet DEFAULT NULL, p_user_agent text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  rec audit_log;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || ws, 0));
  SELECT seq, hash INTO last_seq, last_hash FROM audit_log WHERE workspace_id = ws ORDER BY seq DESC LIMIT 1;
  rec.workspace_id := ws;
  rec.id := new_id('aud');
  rec.seq := coalesce(last_seq, 0) + 1;
  rec.action := p_action;
  rec.actor_id := p_actor_id;
  rec.actor_type := p_actor_type;
  rec.target_type := p_target_type;
  rec.target_id := p_target_id;
  rec.before := p_before;
  rec.after := p_after;
  rec.trace_id := p_trace_id;
  rec.ip := p_ip;
  rec.user_agent := p_user_agent;
  -- Microsecond precision is what the canonical text carries, so the stored value is truncated to it.
  rec.created_at := date_trunc('microseconds', clock_timestamp());
  rec.prev_hash := last_hash;
  rec.hash := encode(sha256(convert_to(coalesce(last_hash, '') || audit_canonical(rec), 'UTF8')), 'hex');
  INSERT INTO audit_log SELECT rec.*;
  RETURN rec.id;
END $$;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, jsonb, jsonb, text, inet, text) TO causeloop_app;

-- The purge of a whole tenant may remove its audit rows (the global offboarding record keeps the evidence);
-- nothing else may, beyond the retention path of 0005.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('causeloop.audit_purge', true) = 'on' AND OLD.created_at < now() - interval '365 days' THEN
      RETURN OLD;
    END IF;
    IF current_setting('causeloop.tenant_purge', true) = OLD.workspace_id THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

-- ---------------------------------------------------------------- tokens

ALTER TABLE personal_access_tokens ADD COLUMN revoked_reason text
  CHECK (revoked_reason IN ('revoked', 'offboarded', 'member_removed', 'expired'));

-- Personal access tokens: clp_pat_<workspace id body>_<64 hex secret>_<checksum>. The checksum is the first
-- 8 hex of sha256 of everything before it, so secret scanners can recognise a token offline; the workspace
-- part routes the lookup to the right tenant. Only sha256(token) is stored.
CREATE OR REPLACE FUNCTION new_pat_token(ws text) RETURNS text
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  body text := 'clp_pat_' || substr(ws, 4) || '_' || replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
BEGIN
  RETURN body || '_' || left(encode(sha256(convert_to(body, 'UTF8')), 'hex'), 8);
END $$;

CREATE OR REPLACE FUNCTION token_hash(token text) RETURNS text
  LANGUAGE sql IMMUTABLE
AS $$ SELECT encode(sha256(convert_to(token, 'UTF8')), 'hex') $$;

-- ---------------------------------------------------------------- offboarding record (global)

-- Outlives the tenant: who offboarded which organization, when, how, with per-table row counts.
-- Not visible to the runtime role.
CREATE TABLE offboarding_records (
  id               text PRIMARY KEY,
  organization_id  text NOT NULL,
  slug             text NOT NULL,
  mode             text NOT NULL CHECK (mode IN ('soft', 'purge', 'restore')),
  status           text NOT NULL DEFAULT 'completed' CHECK (status IN ('in_progress', 'completed')),
  workspace_ids    text[] NOT NULL,
  row_counts       jsonb NOT NULL DEFAULT '{}'::jsonb,
  performed_by     text NOT NULL,
  started_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);
CREATE INDEX offboarding_records_slug_idx ON offboarding_records (slug, started_at DESC);
ALTER TABLE offboarding_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE offboarding_records FORCE ROW LEVEL SECURITY;
-- No policy: the runtime role sees nothing; the owner (superuser or BYPASSRLS) manages it.

-- ---------------------------------------------------------------- onboarding

CREATE OR REPLACE FUNCTION causeloop_check_slug(kind text, slug text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF slug IS NULL OR slug !~ '^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$' THEN
    RAISE EXCEPTION '% slug "%" is invalid: use 2-40 lowercase letters, digits and hyphens, not starting or ending with a hyphen', kind, slug
      USING ERRCODE = '22023';
  END IF;
END $$;

-- Creates a workspace of an organization with default retention settings; the organization's owners
-- become its owners. Returns the workspace id.
CREATE OR REPLACE FUNCTION add_workspace(p_org_slug text, p_workspace_slug text, p_name text DEFAULT NULL,
                                         p_actor text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
AS $$
DECLARE
  org organizations%ROWTYPE;
  ws text := new_id('ws');
  actor text := coalesce(p_actor, 'operator:' || session_user);
BEGIN
  PERFORM causeloop_check_slug('workspace', p_workspace_slug);
  SELECT * INTO org FROM organizations WHERE slug = p_org_slug;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization "%" not found', p_org_slug USING ERRCODE = 'P0002';
  END IF;
  IF org.deleted_at IS NOT NULL THEN
    RAISE EXCEPTION 'organization "%" is offboarded; restore it first', p_org_slug USING ERRCODE = '55000';
  END IF;
  IF EXISTS (SELECT 1 FROM workspaces WHERE organization_id = org.id AND slug = p_workspace_slug) THEN
    RAISE EXCEPTION 'workspace "%/%" already exists', p_org_slug, p_workspace_slug USING ERRCODE = '23505';
  END IF;
  INSERT INTO workspaces (id, organization_id, slug, name) VALUES (ws, org.id, p_workspace_slug, coalesce(p_name, initcap(replace(p_workspace_slug, '-', ' '))));
  INSERT INTO workspace_settings (workspace_id, id) VALUES (ws, new_id('wss'));
  INSERT INTO memberships (workspace_id, id, user_id, role, status)
    SELECT DISTINCT ON (m.user_id) ws, new_id('mem'), m.user_id, 'owner', 'active'
      FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
     WHERE w.organization_id = org.id AND m.role = 'owner' AND m.status = 'active' AND m.workspace_id <> ws;
  PERFORM audit_append(ws, 'workspace.created', actor, 'operator', 'workspace', ws, NULL,
                       jsonb_build_object('organization_id', org.id, 'slug', p_workspace_slug));
  RETURN ws;
END $$;

-- Onboards a client: organization, first workspace, retention defaults (issues 365 days, activity 90,
-- predictions 180, audit log 365 = the floor), the admin user, an owner membership and a one-time admin
-- token (returned once, only its hash stored). An existing slug is an error (SQLSTATE 23505).
CREATE OR REPLACE FUNCTION onboard_client(p_slug text, p_name text, p_admin_email text,
                                          p_workspace_slug text DEFAULT 'production', p_actor text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql
AS $$
DECLARE
  org_id text := new_id('org');
  ws text;
  user_id_ text;
  v_email text := lower(trim(p_admin_email));
  token text;
  token_id text := new_id('pat');
  actor text := coalesce(p_actor, 'operator:' || session_user);
BEGIN
  PERFORM causeloop_check_slug('organization', p_slug);
  PERFORM causeloop_check_slug('workspace', p_workspace_slug);
  IF p_name IS NULL OR length(trim(p_name)) = 0 OR length(p_name) > 200 THEN
    RAISE EXCEPTION 'organization name must be 1-200 characters' USING ERRCODE = '22023';
  END IF;
  IF v_email IS NULL OR v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' OR length(v_email) > 254 THEN
    RAISE EXCEPTION 'admin email is not a valid address' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM organizations WHERE slug = p_slug) THEN
    RAISE EXCEPTION 'organization "%" already exists', p_slug USING ERRCODE = '23505';
  END IF;
  INSERT INTO organizations (id, slug, name) VALUES (org_id, p_slug, trim(p_name));
  INSERT INTO users (id, email) VALUES (new_id('usr'), v_email)
    ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
    RETURNING id INTO user_id_;
  ws := new_id('ws');
  INSERT INTO workspaces (id, organization_id, slug, name) VALUES (ws, org_id, p_workspace_slug, initcap(replace(p_workspace_slug, '-', ' ')));
  INSERT INTO workspace_settings (workspace_id, id, issue_retention_days, activity_retention_days, prediction_retention_days, audit_log_retention_days)
    VALUES (ws, new_id('wss'), 365, 90, 180, 365);
  INSERT INTO memberships (workspace_id, id, user_id, role, status) VALUES (ws, new_id('mem'), user_id_, 'owner', 'active');
  token := new_pat_token(ws);
  INSERT INTO personal_access_tokens (workspace_id, id, user_id, name, token_prefix, pat_hash, role, scopes, created_by)
    VALUES (ws, token_id, user_id_, 'onboarding admin token', left(token, 16), token_hash(token), 'owner', ARRAY['*'], actor);
  PERFORM audit_append(ws, 'tenant.onboarded', actor, 'operator', 'organization', org_id, NULL,
                       jsonb_build_object('slug', p_slug, 'workspace_id', ws, 'admin_user_id', user_id_));
  PERFORM audit_append(ws, 'token.created', actor, 'operator', 'personal_access_token', token_id, NULL,
                       jsonb_build_object('name', 'onboarding admin token', 'role', 'owner', 'user_id', user_id_));
  RETURN jsonb_build_object('organization_id', org_id, 'workspace_id', ws, 'user_id', user_id_,
                            'admin_email', v_email, 'admin_token', token, 'token_id', token_id, 'slug', p_slug);
END $$;

-- ---------------------------------------------------------------- offboarding

-- Every tenant table (a workspace_id column), found from the catalog so a table added later is covered.
CREATE OR REPLACE FUNCTION tenant_table_names() RETURNS SETOF text
  LANGUAGE sql STABLE
AS $$
  SELECT c.relname::text FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
   WHERE s.nspname = current_schema() AND c.relkind IN ('r', 'p')
     AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
   ORDER BY 1
$$;

-- soft: disables the organization and its workspaces and revokes every token and session (reversible with
-- restore_client). purge: deletes every row of every tenant table of its workspaces (tables found from the
-- catalog), users left with no membership, then the organization; one transaction, so an interruption
-- leaves nothing half-deleted, and a repeated call returns the completed record.
CREATE OR REPLACE FUNCTION offboard_client(p_slug text, p_mode text, p_actor text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql
AS $$
DECLARE
  org organizations%ROWTYPE;
  ws_ids text[];
  ws text;
  actor text := coalesce(p_actor, 'operator:' || session_user);
  record_id text := new_id('off');
  counts jsonb := '{}'::jsonb;
  tbl text;
  n bigint;
  remaining text[];
  pass int := 0;
  member_users text[];
  done offboarding_records%ROWTYPE;
BEGIN
  IF p_mode NOT IN ('soft', 'purge') THEN
    RAISE EXCEPTION 'mode must be soft or purge (got "%")', p_mode USING ERRCODE = '22023';
  END IF;
  SELECT * INTO org FROM organizations WHERE slug = p_slug;
  IF NOT FOUND THEN
    SELECT * INTO done FROM offboarding_records WHERE slug = p_slug AND mode = 'purge' AND status = 'completed' ORDER BY started_at DESC LIMIT 1;
    IF FOUND AND p_mode = 'purge' THEN
      RETURN to_jsonb(done) || jsonb_build_object('already_purged', true);
    END IF;
    RAISE EXCEPTION 'organization "%" not found', p_slug USING ERRCODE = 'P0002';
  END IF;
  SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ws_ids FROM workspaces WHERE organization_id = org.id;

  IF p_mode = 'soft' THEN
    UPDATE organizations SET status = 'disabled', deleted_at = coalesce(deleted_at, now()) WHERE id = org.id;
    UPDATE workspaces SET status = 'disabled', deleted_at = coalesce(deleted_at, now()) WHERE organization_id = org.id;
    FOREACH ws IN ARRAY ws_ids LOOP
      UPDATE personal_access_tokens SET revoked_at = now(), revoked_reason = 'offboarded' WHERE workspace_id = ws AND revoked_at IS NULL;
      GET DIAGNOSTICS n = ROW_COUNT;
      counts := counts || jsonb_build_object('personal_access_tokens', coalesce((counts->>'personal_access_tokens')::bigint, 0) + n);
      UPDATE sessions SET revoked_at = now() WHERE workspace_id = ws AND revoked_at IS NULL;
      GET DIAGNOSTICS n = ROW_COUNT;
      counts := counts || jsonb_build_object('sessions', coalesce((counts->>'sessions')::bigint, 0) + n);
      PERFORM audit_append(ws, 'tenant.offboarded', actor, 'operator', 'organization', org.id, NULL, jsonb_build_object('mode', 'soft'));
    END LOOP;
    INSERT INTO offboarding_records (id, organization_id, slug, mode, status, workspace_ids, row_counts, performed_by, completed_at)
      VALUES (record_id, org.id, p_slug, 'soft', 'completed', ws_ids, counts, actor, now());
    RETURN (SELECT to_jsonb(r) FROM offboarding_records r WHERE r.id = record_id);
  END IF;

  -- purge: count first (accurate per-table figures), then delete until nothing of these workspaces is left.
  SELECT coalesce(array_agg(DISTINCT m.user_id), '{}') INTO member_users FROM memberships m WHERE m.workspace_id = ANY (ws_ids);
  FOR tbl IN SELECT tenant_table_names() LOOP
    EXECUTE format('SELECT count(*) FROM %I WHERE workspace_id = ANY ($1)', tbl) INTO n USING ws_ids;
    IF n > 0 THEN counts := counts || jsonb_build_object(tbl, n); END IF;
  END LOOP;

  -- Crypto-shredding first: without the data keys every *_encrypted value of these workspaces is unreadable,
  -- in backups too.
  DELETE FROM workspace_keys WHERE workspace_id = ANY (ws_ids);

  FOREACH ws IN ARRAY ws_ids LOOP
    PERFORM set_config('causeloop.tenant_purge', ws, true);
    pass := 0;
    LOOP
      pass := pass + 1;
      remaining := '{}';
      FOR tbl IN SELECT tenant_table_names() LOOP
        BEGIN
          EXECUTE format('DELETE FROM %I WHERE workspace_id = $1', tbl) USING ws;
        EXCEPTION WHEN foreign_key_violation THEN
          remaining := remaining || tbl; -- a child still points here; the next pass gets it
        END;
      END LOOP;
      EXIT WHEN cardinality(remaining) = 0;
      IF pass > 50 THEN
        RAISE EXCEPTION 'purge of "%" could not delete %: foreign keys from outside the workspace', p_slug, remaining;
      END IF;
    END LOOP;
    PERFORM set_config('causeloop.tenant_purge', '', true);
  END LOOP;
  DELETE FROM workspaces WHERE organization_id = org.id;
  DELETE FROM organizations WHERE id = org.id;
  -- People who were members only here leave nothing behind.
  DELETE FROM users u WHERE u.id = ANY (member_users) AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id);
  GET DIAGNOSTICS n = ROW_COUNT;
  counts := counts || jsonb_build_object('users', n, 'workspaces', cardinality(ws_ids), 'organizations', 1);
  INSERT INTO offboarding_records (id, organization_id, slug, mode, status, workspace_ids, row_counts, performed_by, completed_at)
    VALUES (record_id, org.id, p_slug, 'purge', 'completed', ws_ids, counts, actor, now());
  RETURN (SELECT to_jsonb(r) FROM offboarding_records r WHERE r.id = record_id);
END $$;

-- Reverses a soft offboarding: the organization and workspaces are active again and the tokens that the
-- offboarding revoked work again (sessions stay revoked: people sign in again).
CREATE OR REPLACE FUNCTION restore_client(p_slug text, p_actor text DEFAULT NULL)
  RETURNS jsonb
  LANGUAGE plpgsql
AS $$
DECLARE
  org organizations%ROWTYPE;
  ws_ids text[];
  ws text;
  n bigint;
  restored bigint := 0;
  actor text := coalesce(p_actor, 'operator:' || session_user);
  record_id text := new_id('off');
BEGIN
  SELECT * INTO org FROM organizations WHERE slug = p_slug;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'organization "%" not found', p_slug USING ERRCODE = 'P0002';
  END IF;
  IF org.deleted_at IS NULL THEN
    RAISE EXCEPTION 'organization "%" is not offboarded', p_slug USING ERRCODE = '55000';
  END IF;
  SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ws_ids FROM workspaces WHERE organization_id = org.id;
  UPDATE organizations SET status = 'active', deleted_at = NULL WHERE id = org.id;
  UPDATE workspaces SET status = 'active', deleted_at = NULL WHERE organization_id = org.id;
  FOREACH ws IN ARRAY ws_ids LOOP
    UPDATE personal_access_tokens SET revoked_at = NULL, revoked_reason = NULL
     WHERE workspace_id = ws AND revoked_reason = 'offboarded' AND (expires_at IS NULL OR expires_at > now());
    GET DIAGNOSTICS n = ROW_COUNT;
    restored := restored + n;
    PERFORM audit_append(ws, 'tenant.restored', actor, 'operator', 'organization', org.id, NULL, jsonb_build_object('tokens_restored', n));
  END LOOP;
  INSERT INTO offboarding_records (id, organization_id, slug, mode, status, workspace_ids, row_counts, performed_by, completed_at)
    VALUES (record_id, org.id, p_slug, 'restore', 'completed', ws_ids, jsonb_build_object('personal_access_tokens', restored), actor, now());
  RETURN (SELECT to_jsonb(r) FROM offboarding_records r WHERE r.id = record_id);
END $$;
