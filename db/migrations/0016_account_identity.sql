-- Identity spans tenants; trust never does. This migration moves what belongs to the ACCOUNT (its password,
-- its second factor) behind functions that enforce who may change it, records how each session proved
-- who it is, and binds identity-provider logins to (connection, subject) instead of an email claim.

-- How and when a session's person proved who they are: account-level changes need a recent password login.
ALTER TABLE sessions ADD COLUMN auth_method text NOT NULL DEFAULT 'password' CHECK (auth_method IN ('password', 'idp'));
ALTER TABLE sessions ADD COLUMN authenticated_at timestamptz NOT NULL DEFAULT now();

-- An account provisioned just in time by a workspace's identity provider belongs to that connection: it has
-- no password and can only be signed in through that connection, into that workspace.
ALTER TABLE users ADD COLUMN idp_workspace_id text;
ALTER TABLE users ADD COLUMN idp_connection_id text;

-- A workspace may require a second factor of every member who signs in with a password.
ALTER TABLE workspaces ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;
GRANT UPDATE (require_mfa) ON workspaces TO causeloop_app;

-- Identity-provider identities, linked per connection: (connection, subject) -> user, never by email alone.
CREATE TABLE sso_identities (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  connection_id  text NOT NULL CHECK (connection_id ~ '^(sso_[0-9a-z]{26}|global)$'),
  issuer         text NOT NULL,
  subject        text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
  user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, connection_id, subject)
);
CREATE INDEX sso_identities_ws_user_idx ON sso_identities (workspace_id, user_id);
SELECT protect_tenant_table('sso_identities');

-- The password is the account's: the runtime role may no longer write it directly (a workspace could
-- otherwise set the password of anyone holding a membership in it). auth_set_password() below is the door.
REVOKE UPDATE (password_hash, password_changed_at) ON users FROM causeloop_app;

-- True when the user is an active member of the current workspace: the guard of every account function, so
-- a workspace can only reach accounts that belong to it.
CREATE OR REPLACE FUNCTION auth_user_in_current_workspace(p_user_id text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                  WHERE m.user_id = p_user_id AND m.workspace_id = app_current_tenant()
                    AND m.status = 'active' AND w.deleted_at IS NULL);
$$;
REVOKE ALL ON FUNCTION auth_user_in_current_workspace(text) FROM PUBLIC;

-- Sets the account's password and revokes every other session and refresh token of the account, in every
-- workspace, in one statement. The caller (the service) has verified the current password or the invitation.
CREATE OR REPLACE FUNCTION auth_set_password(p_user_id text, p_hash text, p_keep_session text)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  n integer;
BEGIN
  IF NOT auth_user_in_current_workspace(p_user_id) THEN
    RAISE EXCEPTION 'not a member of the current workspace' USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM users WHERE id = p_user_id AND idp_connection_id IS NOT NULL) THEN
    RAISE EXCEPTION 'an account provisioned by an identity provider has no password' USING ERRCODE = '42501';
  END IF;
  UPDATE users SET password_hash = p_hash, password_changed_at = now() WHERE id = p_user_id;
  UPDATE sessions SET revoked_at = now()
   WHERE user_id = p_user_id AND revoked_at IS NULL AND id IS DISTINCT FROM p_keep_session;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION auth_set_password(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_set_password(text, text, text) TO causeloop_app;

-- The invitation path no longer sets passwords on its own (auth_set_password covers a new account's first).
DROP FUNCTION IF EXISTS auth_set_invited_password(text, text);

-- A second factor belongs to the account, not to a workspace: global, hidden from the runtime role, reached
-- only through the functions below. The TOTP secret is wrapped by the master key (AAD binds user and factor).
CREATE TABLE user_mfa_factors (
  user_id               text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  id                    text NOT NULL UNIQUE,
  kind                  text NOT NULL DEFAULT 'totp' CHECK (kind IN ('totp')),
  secret_wrapped        text NOT NULL,
  kek_version           integer NOT NULL,
  recovery_code_hashes  text[] NOT NULL DEFAULT '{}',
  confirmed_at          timestamptz,
  last_used_step        bigint,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_mfa_factors_touch BEFORE UPDATE ON user_mfa_factors FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
ALTER TABLE user_mfa_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_mfa_factors FORCE ROW LEVEL SECURITY;
REVOKE ALL ON user_mfa_factors FROM causeloop_app;

-- What an invitation needs to know about the invited account, without revealing it to the caller: whether
-- it is new (no password, not provisioned by an IdP, no active membership in any other workspace).
CREATE OR REPLACE FUNCTION auth_account_is_new(p_user_id text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT u.password_hash IS NULL AND u.idp_connection_id IS NULL
     AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.status = 'active'
                        AND m.workspace_id IS DISTINCT FROM app_current_tenant())
     AND NOT EXISTS (SELECT 1 FROM user_mfa_factors f WHERE f.user_id = u.id)
    FROM users u WHERE u.id = p_user_id
$$;


REVOKE ALL ON FUNCTION auth_account_is_new(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_account_is_new(text) TO causeloop_app;

CREATE OR REPLACE FUNCTION auth_mfa_get(p_user_id text)
  RETURNS TABLE (id text, secret_wrapped text, kek_version integer, recovery_code_hashes text[], confirmed_at timestamptz, last_used_step bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT f.id, f.secret_wrapped, f.kek_version, f.recovery_code_hashes, f.confirmed_at, f.last_used_step
    FROM user_mfa_factors f WHERE f.user_id = p_user_id AND auth_user_in_current_workspace(p_user_id);
$$;

-- Starts (or restarts) an unconfirmed enrolment; false when a confirmed factor exists.
CREATE OR REPLACE FUNCTION auth_mfa_begin(p_user_id text, p_id text, p_secret_wrapped text, p_kek_version integer)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
BEGIN
  IF NOT auth_user_in_current_workspace(p_user_id) THEN
    RAISE EXCEPTION 'not a member of the current workspace' USING ERRCODE = '42501';
  END IF;
  INSERT INTO user_mfa_factors (user_id, id, secret_wrapped, kek_version) VALUES (p_user_id, p_id, p_secret_wrapped, p_kek_version)
    ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, secret_wrapped = EXCLUDED.secret_wrapped, kek_version = EXCLUDED.kek_version,
      recovery_code_hashes = '{}', last_used_step = NULL
      WHERE user_mfa_factors.confirmed_at IS NULL;
  RETURN FOUND;
END $$;

CREATE OR REPLACE FUNCTION auth_mfa_confirm(p_user_id text, p_recovery_code_hashes text[])
  RETURNS boolean
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE user_mfa_factors SET confirmed_at = now(), recovery_code_hashes = p_recovery_code_hashes
   WHERE user_id = p_user_id AND confirmed_at IS NULL AND auth_user_in_current_workspace(p_user_id)
  RETURNING true;
$$;

-- Claims a TOTP time step: true only for a step later than every one used before (atomic: a replayed or
-- concurrent second use of the same code gets false).
CREATE OR REPLACE FUNCTION auth_mfa_claim_step(p_user_id text, p_step bigint)
  RETURNS boolean
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE user_mfa_factors SET last_used_step = p_step
   WHERE user_id = p_user_id AND (last_used_step IS NULL OR last_used_step < p_step)
     AND auth_user_in_current_workspace(p_user_id)
  RETURNING true;
$$;

-- Consumes a recovery code (by hash): true once, then never again.
CREATE OR REPLACE FUNCTION auth_mfa_use_recovery(p_user_id text, p_hash text)
  RETURNS boolean
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE user_mfa_factors SET recovery_code_hashes = array_remove(recovery_code_hashes, p_hash)
   WHERE user_id = p_user_id AND confirmed_at IS NOT NULL AND p_hash = ANY (recovery_code_hashes)
     AND auth_user_in_current_workspace(p_user_id)
  RETURNING true;
$$;

CREATE OR REPLACE FUNCTION auth_mfa_delete(p_user_id text)
  RETURNS boolean
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  DELETE FROM user_mfa_factors WHERE user_id = p_user_id AND auth_user_in_current_workspace(p_user_id) RETURNING true;
$$;

-- Factors enrolled before this migration live in one workspace's mfa_factors (sealed with that workspace's
-- data key, which SQL cannot open): this tells the service where, so it can move them to the account.
CREATE OR REPLACE FUNCTION auth_mfa_legacy_workspace(p_user_id text)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT f.workspace_id FROM mfa_factors f
   WHERE f.user_id = p_user_id AND f.confirmed_at IS NOT NULL AND auth_user_in_current_workspace(p_user_id)
   ORDER BY f.confirmed_at LIMIT 1;
$$;

DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY['auth_mfa_get(text)', 'auth_mfa_begin(text, text, text, integer)', 'auth_mfa_confirm(text, text[])',
                            'auth_mfa_claim_step(text, bigint)', 'auth_mfa_use_recovery(text, text)', 'auth_mfa_delete(text)',
                            'auth_mfa_legacy_workspace(text)'] LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO causeloop_app', fn);
  END LOOP;
END $$;

-- Login lookups: accounts provisioned by a workspace's identity provider never sign in with a password, and
-- the answer says whether the account has a second factor (it applies in every workspace).
DROP FUNCTION IF EXISTS auth_login_lookup(text);
CREATE FUNCTION auth_login_lookup(p_email text)
  RETURNS TABLE (user_id text, password_hash text, user_status text, workspace_ids text[], roles text[], mfa_enabled boolean)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT u.id, u.password_hash, u.status,
         coalesce(array_agg(m.workspace_id ORDER BY m.created_at) FILTER (WHERE m.id IS NOT NULL), '{}'),
         coalesce(array_agg(m.role ORDER BY m.created_at) FILTER (WHERE m.id IS NOT NULL), '{}'),
         EXISTS (SELECT 1 FROM user_mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL)
      OR EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL)
    FROM (SELECT 1) one
    LEFT JOIN users u ON u.email = lower(p_email) AND u.deleted_at IS NULL AND u.idp_connection_id IS NULL
    LEFT JOIN memberships m ON m.user_id = u.id AND m.status = 'active'
    LEFT JOIN workspaces w ON w.id = m.workspace_id AND w.deleted_at IS NULL
   WHERE m.id IS NULL OR w.id IS NOT NULL
   GROUP BY u.id, u.password_hash, u.status
$$;
REVOKE ALL ON FUNCTION auth_login_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_login_lookup(text) TO causeloop_app;

-- Just-in-time provisioning creates a NEW account bound to the connection; it never adopts an existing one
-- (returns NULL when the email already has an account, wherever it was created).
CREATE OR REPLACE FUNCTION auth_provision_idp_user(p_email text, p_connection_id text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  uid text;
BEGIN
  IF app_current_tenant() IS NULL THEN
    RAISE EXCEPTION 'auth_provision_idp_user needs a current workspace' USING ERRCODE = '42501';
  END IF;
  INSERT INTO users (id, email, idp_workspace_id, idp_connection_id, email_verified_at)
    VALUES (new_id('usr'), lower(p_email), app_current_tenant(), p_connection_id, now())
    ON CONFLICT (email) DO NOTHING
    RETURNING id INTO uid;
  RETURN uid;
END $$;
REVOKE ALL ON FUNCTION auth_provision_idp_user(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_provision_idp_user(text, text) TO causeloop_app;
