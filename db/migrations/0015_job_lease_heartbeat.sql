-- A worker keeps the jobs it claimed: while a handler runs (an export of a large workspace can outlast the
-- lease), the worker extends the lease of every job it holds, so another instance does not take over a job
-- whose worker is alive. A dead worker stops extending and its jobs are reclaimed when the lease runs out.
-- Ids only in, a count out: the runtime role may call it across workspaces.
CREATE OR REPLACE FUNCTION extend_job_leases(p_worker text, p_lease_seconds integer)
  RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  n integer;
BEGIN
  UPDATE jobs SET locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE locked_by = p_worker AND status = 'running';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION extend_job_leases(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION extend_job_leases(text, integer) TO causeloop_app;
