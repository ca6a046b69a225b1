-- An erasure reaches what was copied out of the tables and what stays behind in them.
-- 1. Export archives built before an erasure hold the erased person's data: the erasure deletes them and
--    marks the export `revoked` with a reason; an export in flight is invalidated through erasure_epoch
--    (the erasure bumps it under a row lock, and the build completes only if the epoch it started with
--    is still current, so an archive read partly before the erasure never becomes downloadable).
ALTER TABLE export_jobs DROP CONSTRAINT export_jobs_status_check;
ALTER TABLE export_jobs ADD CONSTRAINT export_jobs_status_check CHECK (status IN ('queued', 'running', 'completed', 'failed', 'expired', 'revoked'));
ALTER TABLE export_jobs ADD COLUMN erasure_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE export_jobs ADD COLUMN revoked_at timestamptz;
ALTER TABLE export_jobs ADD COLUMN revoked_reason text;

-- 2. The erased values stay readable in dead tuples until VACUUM: the erasure records the tables it
--    touched, and a job (or `causeloop rtbf vacuum`) vacuums them outside the erasure's transaction as the
--    table owner, then marks the request.
ALTER TABLE rtbf_requests ADD COLUMN vacuum_status text CHECK (vacuum_status IN ('pending', 'completed'));
ALTER TABLE rtbf_requests ADD COLUMN vacuum_tables text[];
ALTER TABLE rtbf_requests ADD COLUMN vacuumed_at timestamptz;
CREATE INDEX rtbf_requests_ws_vacuum_idx ON rtbf_requests (workspace_id, vacuum_status);

ALTER TABLE compliance_log DROP CONSTRAINT compliance_log_kind_check;
ALTER TABLE compliance_log ADD CONSTRAINT compliance_log_kind_check
  CHECK (kind IN ('retention.run', 'rtbf.transition', 'export.created', 'export.completed', 'export.expired', 'offboarding', 'export.revoked', 'rtbf.vacuum'));

-- How many completed erasures still wait for their VACUUM, across workspaces (doctor, run as the runtime
-- role, cannot see rtbf_requests of other workspaces). A count only.
CREATE OR REPLACE FUNCTION rtbf_vacuum_pending_count()
  RETURNS integer
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$ SELECT count(*)::integer FROM rtbf_requests WHERE vacuum_status = 'pending' $$;
REVOKE ALL ON FUNCTION rtbf_vacuum_pending_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rtbf_vacuum_pending_count() TO causeloop_app;
