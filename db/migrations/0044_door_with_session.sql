-- The hot path's door for a session's access token (issue 14), as enter_with_pat (0042) is for a personal
-- access token: one statement enters the workspace (transaction-local workspace and runtime role) and reads,
-- under Row-Level Security, what decides whether the session still holds: its membership, the workspace and
-- the session row. The JWT's signature is verified by the server before any of this is used; the claims passed
-- here only pick the rows (a forged token reads rows of a workspace it then never gets to act in).
CREATE OR REPLACE FUNCTION enter_with_session(p_workspace text, p_user text, p_session text)
  RETURNS TABLE (role text, ws_deleted_at timestamptz, revoked_at timestamptz, require_mfa boolean,
                 mfa_verified boolean, auth_method text, authenticated_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
#variable_conflict use_column
BEGIN
  PERFORM pg_catalog.set_config('app.current_workspace', p_workspace, true),
          pg_catalog.set_config('role', 'causeloop_app', true);
  RETURN QUERY
    SELECT m.role, w.deleted_at, s.revoked_at, w.require_mfa, s.mfa_verified, s.auth_method, s.authenticated_at
      FROM public.memberships m JOIN public.workspaces w ON w.id = m.workspace_id
      JOIN public.sessions s ON s.workspace_id = m.workspace_id AND s.id = p_session AND s.user_id = m.user_id
     WHERE m.workspace_id = p_workspace AND m.user_id = p_user AND m.status = 'active';
END
$$;
REVOKE ALL ON FUNCTION enter_with_session(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enter_with_session(text, text, text) TO causeloop_app;
