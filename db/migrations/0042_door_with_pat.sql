-- The hot path's door for a personal access token (issue 14): one statement enters the workspace (the
-- transaction-local workspace setting and the runtime role, exactly as the door's own set_config does) and
-- reads the token under Row-Level Security, instead of two. SECURITY INVOKER and no SET clause on purpose: the
-- settings must outlive the call (a function's SET clause is undone when it returns), and the token is read as
-- causeloop_app with the workspace just set, so RLS decides what it sees. Names are schema-qualified because
-- the caller's search_path is not trusted.
CREATE OR REPLACE FUNCTION enter_with_pat(p_workspace text, p_hash text)
  RETURNS TABLE (id text, user_id text, service_account_id text, role text, scopes text[],
                 expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz,
                 ws_deleted_at timestamptz, member_status text)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
#variable_conflict use_column
BEGIN
  PERFORM pg_catalog.set_config('app.current_workspace', p_workspace, true),
          pg_catalog.set_config('role', 'causeloop_app', true);
  RETURN QUERY
    SELECT t.id, t.user_id, t.service_account_id, t.role, t.scopes, t.expires_at, t.revoked_at, t.last_used_at,
           w.deleted_at,
           (SELECT m.status FROM public.memberships m WHERE m.workspace_id = t.workspace_id AND m.user_id = t.user_id)
      FROM public.personal_access_tokens t JOIN public.workspaces w ON w.id = t.workspace_id
     WHERE t.workspace_id = p_workspace AND t.pat_hash = p_hash;
END
$$;
REVOKE ALL ON FUNCTION enter_with_pat(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enter_with_pat(text, text) TO causeloop_app;
