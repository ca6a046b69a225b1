-- Start-up check of the master key: one wrapped data key per KEK version in use, readable by the runtime
-- role without seeing any tenant's rows (wrapped keys are ciphertext; nothing else is returned).
CREATE OR REPLACE FUNCTION kek_probe()
  RETURNS TABLE (workspace_id text, version integer, kek_version integer, wrapped_dek text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT DISTINCT ON (k.kek_version) k.workspace_id, k.version, k.kek_version, k.wrapped_dek
    FROM workspace_keys k
   WHERE k.status <> 'destroyed'
   ORDER BY k.kek_version, k.created_at
$$;
REVOKE ALL ON FUNCTION kek_probe() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kek_probe() TO causeloop_app;
