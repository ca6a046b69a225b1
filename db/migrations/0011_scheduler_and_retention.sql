-- The embedded scheduler's run history, the workspace list that cross-tenant jobs iterate, and the audit
-- retention path made callable by the runtime role for its current workspace only.

-- One row per scheduled run of a named job. UNIQUE (job, slot): when several `serve` instances share one
-- PostgreSQL, each scheduled slot is claimed, and so run, exactly once. No tenant data here.
CREATE TABLE scheduler_runs (
  id           text PRIMARY KEY,
  job          text NOT NULL CHECK (job ~ '^[a-z][a-z0-9_.-]*$'),
  slot         timestamptz NOT NULL,
  trigger      text NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'catch_up', 'manual')),
  instance     text NOT NULL,
  outcome      text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'succeeded', 'failed')),
  counts       jsonb NOT NULL DEFAULT '{}'::jsonb,
  error        text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  UNIQUE (job, slot)
);
CREATE INDEX scheduler_runs_job_started_idx ON scheduler_runs (job, started_at DESC);
GRANT SELECT, INSERT, UPDATE ON scheduler_runs TO causeloop_app;

-- Workspaces that cross-tenant jobs visit (each then entered through the tenant door). Ids only.
CREATE OR REPLACE FUNCTION active_workspace_ids()
  RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$ SELECT id FROM workspaces WHERE deleted_at IS NULL ORDER BY id $$;
REVOKE ALL ON FUNCTION active_workspace_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION active_workspace_ids() TO causeloop_app;

-- Retention of audit rows: only the current workspace's, only older than the 365-day floor, only rows a
-- signed checkpoint already covers. Runs as the owner (the runtime role has no DELETE on audit_log).
CREATE OR REPLACE FUNCTION audit_log_purge_expired(ws text, older_than timestamptz, max_rows integer DEFAULT 5000)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  n integer;
  covered bigint;
BEGIN
  IF ws IS DISTINCT FROM app_current_tenant() THEN
    RAISE EXCEPTION 'audit retention runs inside the workspace''s own tenant transaction' USING ERRCODE = '42501';
  END IF;
  SELECT coalesce(max(seq), 0) INTO covered FROM audit_checkpoints WHERE workspace_id = ws;
  PERFORM set_config('causeloop.audit_purge', 'on', true);
  DELETE FROM audit_log a
   WHERE (a.workspace_id, a.id) IN (
     SELECT workspace_id, id FROM audit_log
      WHERE workspace_id = ws
        AND created_at < least(older_than, now() - interval '365 days')
        AND seq <= covered
      ORDER BY seq
      LIMIT max_rows);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('causeloop.audit_purge', 'off', true);
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION audit_log_purge_expired(text, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_log_purge_expired(text, timestamptz, integer) TO causeloop_app;
