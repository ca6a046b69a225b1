-- What the backup staleness alarm needs (doctor, /readyz, the console, the scheduler's catch-up rule), read
-- by the runtime role through the same function as the metrics: besides 0034's last backup and last
-- successful verification, the first backup, the last failed attempt, the last restore drill whatever its
-- result, and when the first workspace was created (a fresh installation's grace period starts there).
-- Timestamps (Unix seconds), one boolean and the id of the newest verified backup (retention never prunes
-- it) only: never a reason, a path or an actor.
CREATE OR REPLACE FUNCTION backup_readout() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT jsonb_build_object(
    'last_created', (SELECT extract(epoch FROM max(created_at))::float8 FROM operator_log
                      WHERE action = 'backup.created'),
    'first_created', (SELECT extract(epoch FROM min(created_at))::float8 FROM operator_log
                       WHERE action = 'backup.created'),
    'last_failed', (SELECT extract(epoch FROM max(created_at))::float8 FROM operator_log
                     WHERE action = 'backup.failed'),
    'last_verified', (SELECT extract(epoch FROM max(created_at))::float8 FROM operator_log
                       WHERE action = 'backup.verified' AND coalesce((after ->> 'ok')::boolean, false)),
    'last_verified_id', (SELECT target_id FROM operator_log
                          WHERE action = 'backup.verified' AND coalesce((after ->> 'ok')::boolean, false)
                          ORDER BY created_at DESC, seq DESC LIMIT 1),
    'last_drill', (SELECT extract(epoch FROM created_at)::float8 FROM operator_log
                    WHERE action = 'backup.verified' ORDER BY created_at DESC, seq DESC LIMIT 1),
    'last_drill_ok', (SELECT coalesce((after ->> 'ok')::boolean, false) FROM operator_log
                       WHERE action = 'backup.verified' ORDER BY created_at DESC, seq DESC LIMIT 1),
    'first_workspace', (SELECT extract(epoch FROM min(created_at))::float8 FROM workspaces))
$$;
REVOKE ALL ON FUNCTION backup_readout() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_readout() TO causeloop_app;
