-- The job queue's claim: workers (server code) take due jobs of every workspace with FOR UPDATE SKIP LOCKED,
-- also jobs whose worker died (lease expired), then run each through the tenant door of its workspace.
CREATE OR REPLACE FUNCTION claim_jobs(p_worker text, p_limit integer, p_lease_seconds integer)
  RETURNS TABLE (workspace_id text, id text, kind text, payload jsonb, attempts integer, max_attempts integer)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE jobs j
     SET status = 'running', locked_by = p_worker, locked_until = now() + make_interval(secs => p_lease_seconds), attempts = j.attempts + 1
    FROM (SELECT workspace_id, id FROM jobs
           WHERE (status = 'queued' AND run_at <= now()) OR (status = 'running' AND locked_until < now())
           ORDER BY run_at
           LIMIT p_limit
           FOR UPDATE SKIP LOCKED) due
   WHERE j.workspace_id = due.workspace_id AND j.id = due.id
  RETURNING j.workspace_id, j.id, j.kind, j.payload, j.attempts, j.max_attempts
$$;
REVOKE ALL ON FUNCTION claim_jobs(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_jobs(text, integer, integer) TO causeloop_app;

-- Export download links are signed by the server; the archive's location is looked up by id.
ALTER TABLE export_jobs ADD COLUMN file_name text;
