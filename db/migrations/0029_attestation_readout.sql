-- The last isolation attestation (src/security/attestation.ts), for doctor and the console, which run as the
-- runtime role: the operator log stays hidden from it, this one row of it does not.
CREATE OR REPLACE FUNCTION last_isolation_attestation()
  RETURNS TABLE (action text, created_at timestamptz, after jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT action, created_at, after FROM operator_log
   WHERE action IN ('isolation.attested', 'isolation.attestation_failed')
   ORDER BY seq DESC LIMIT 1
$$;
REVOKE ALL ON FUNCTION last_isolation_attestation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION last_isolation_attestation() TO causeloop_app;
