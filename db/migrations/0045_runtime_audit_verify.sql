-- The nightly audit verification as the runtime role (serve on PostgreSQL without DATABASE_OWNER_URL, the
-- standard deployment): its work lists, ids only, as audit_checkpoints_due (0009) is the checkpointer's. Each
-- chain is then read under its own workspace's Row-Level Security; the operator log stays its owner's.
CREATE OR REPLACE FUNCTION audit_chain_workspaces()
  RETURNS TABLE (workspace_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT w.id FROM workspaces w ORDER BY w.id
$$;
REVOKE ALL ON FUNCTION audit_chain_workspaces() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_chain_workspaces() TO causeloop_app;

-- Workspaces purged with their tenant: their anchors outside the database have no chain left to match.
CREATE OR REPLACE FUNCTION audit_purged_workspaces()
  RETURNS TABLE (workspace_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT DISTINCT unnest(r.workspace_ids) FROM offboarding_records r WHERE r.mode = 'purge'
$$;
REVOKE ALL ON FUNCTION audit_purged_workspaces() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_purged_workspaces() TO causeloop_app;
