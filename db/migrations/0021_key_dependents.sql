-- What depends on the server's key files, for the start-up check that refuses to generate a new key over a
-- lost one (src/secrets/server-keys.ts). The runtime role cannot read these tables across workspaces, so a
-- narrow SECURITY DEFINER function answers yes or no and nothing else.
CREATE OR REPLACE FUNCTION server_key_dependents()
  RETURNS TABLE (signed_checkpoints boolean, subject_refs boolean)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT EXISTS (SELECT 1 FROM audit_checkpoints) OR EXISTS (SELECT 1 FROM operator_log_checkpoints),
         EXISTS (SELECT 1 FROM rtbf_requests WHERE subject_ref IS NOT NULL);
$$;
REVOKE ALL ON FUNCTION server_key_dependents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION server_key_dependents() TO causeloop_app;
