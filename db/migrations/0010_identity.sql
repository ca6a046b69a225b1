-- Identity: invitations, login lookups that span workspaces, and brute-force throttling.

ALTER TABLE memberships ADD COLUMN invite_token_hash text CHECK (invite_token_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE memberships ADD COLUMN invite_expires_at timestamptz;
CREATE INDEX memberships_ws_invite_idx ON memberships (workspace_id, invite_token_hash);

ALTER TABLE sessions ADD COLUMN mfa_verified boolean NOT NULL DEFAULT false;

-- Login happens before a workspace is known: these functions (owned by the schema owner) answer exactly
-- what login needs and nothing more. They return one row even for an unknown email, so timing and shape
-- do not reveal whether an account exists.
CREATE OR REPLACE FUNCTION auth_login_lookup(p_email text)
  RETURNS TABLE (user_id text, password_hash text, user_status text, workspace_ids text[], roles text[])
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT u.id, u.password_hash, u.status,
         coalesce(array_agg(m.workspace_id ORDER BY m.created_at) FILTER (WHERE m.id IS NOT NULL), '{}'),
         coalesce(array_agg(m.role ORDER BY m.created_at) FILTER (WHERE m.id IS NOT NULL), '{}')
    FROM (SELECT 1) one
    LEFT JOIN users u ON u.email = lower(p_email) AND u.deleted_at IS NULL
    LEFT JOIN memberships m ON m.user_id = u.id AND m.status = 'active'
    LEFT JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
   WHERE m.id IS NULL OR w.id IS NOT NULL
   GROUP BY u.id, u.password_hash, u.status
$$;
REVOKE ALL ON FUNCTION auth_login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_login_lookup(text) TO causeloop_app;

-- Inviting someone by email inside the current workspace: the user row is global, so it is created or
-- found here; the membership is created by the caller through RLS as usual.
CREATE OR REPLACE FUNCTION auth_ensure_user(p_email text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  uid text;
BEGIN
  IF app_current_tenant() IS NULL THEN
    RAISE EXCEPTION 'auth_ensure_user needs a current workspace' USING ERRCODE = '42501';
  END IF;
  INSERT INTO users (id, email) VALUES (new_id('usr'), lower(p_email))
    ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
    RETURNING id INTO uid;
  RETURN uid;
END $$;
REVOKE ALL ON FUNCTION auth_ensure_user(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_ensure_user(text) TO causeloop_app;

-- Sets a password for a user who has an invitation in the current workspace (accepting it).
CREATE OR REPLACE FUNCTION auth_set_invited_password(p_user_id text, p_hash text)
  RETURNS void
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE users SET password_hash = p_hash, password_changed_at = now()
   WHERE id = p_user_id AND EXISTS (
     SELECT 1 FROM memberships m WHERE m.user_id = p_user_id AND m.workspace_id = app_current_tenant() AND m.status = 'active');
$$;
REVOKE ALL ON FUNCTION auth_set_invited_password(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_set_invited_password(text, text) TO causeloop_app;

-- Brute-force throttling, keyed by sha256 of 'account:<email>' or 'ip:<address>' (no personal data stored).
-- Global and not readable by the runtime role except through auth_throttle().
CREATE TABLE auth_throttle (
  key              text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
  failures         integer NOT NULL DEFAULT 0,
  last_failure_at  timestamptz,
  locked_until     timestamptz
);
ALTER TABLE auth_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_throttle FORCE ROW LEVEL SECURITY;

-- p_outcome: 'check' returns the seconds to wait (0 = go ahead); 'fail' records a failure (growing delay,
-- lock after 10 failures for 15 minutes) and returns the new wait; 'ok' clears the key.
CREATE OR REPLACE FUNCTION auth_throttle(p_key text, p_outcome text)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  t auth_throttle%ROWTYPE;
  wait_s integer;
BEGIN
  IF p_outcome = 'ok' THEN
    DELETE FROM auth_throttle WHERE key = p_key;
    RETURN 0;
  END IF;
  SELECT * INTO t FROM auth_throttle WHERE key = p_key;
  IF p_outcome = 'check' THEN
    IF NOT FOUND THEN RETURN 0; END IF;
    IF t.locked_until IS NOT NULL AND t.locked_until > now() THEN
      RETURN ceil(extract(epoch FROM t.locked_until - now()))::integer;
    END IF;
    IF t.last_failure_at < now() - interval '1 hour' THEN RETURN 0; END IF;
    RETURN 0;
  END IF;
  INSERT INTO auth_throttle (key, failures, last_failure_at) VALUES (p_key, 1, now())
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN auth_throttle.last_failure_at < now() - interval '1 hour' THEN 1 ELSE auth_throttle.failures + 1 END,
      last_failure_at = now()
    RETURNING * INTO t;
  -- 1 s, 2 s, 4 s ... after the fifth failure, then a 15-minute lock at the tenth.
  IF t.failures >= 10 THEN
    wait_s := 900;
  ELSIF t.failures >= 5 THEN
    wait_s := power(2, t.failures - 5)::integer;
  ELSE
    wait_s := 0;
  END IF;
  IF wait_s > 0 THEN
    UPDATE auth_throttle SET locked_until = now() + make_interval(secs => wait_s) WHERE key = p_key;
  END IF;
  RETURN wait_s;
END $$;
REVOKE ALL ON FUNCTION auth_throttle(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_throttle(text, text) TO causeloop_app;
