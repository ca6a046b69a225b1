-- When the last backup was taken and the last one verified by restoring it (both from the operator log, which
-- the runtime role cannot read): the metrics' backup age. Timestamps only (Unix seconds), null until one is.
CREATE OR REPLACE FUNCTION backup_readout() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT jsonb_build_object(
    'last_created', (SELECT extract(epoch FROM max(created_at))::float8 FROM operator_log
                      WHERE action = 'backup.created'),
    'last_verified', (SELECT extract(epoch FROM max(created_at))::float8 FROM operator_log
                       WHERE action = 'backup.verified' AND coalesce((after ->> 'ok')::boolean, false)))
$$;
REVOKE ALL ON FUNCTION backup_readout() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION backup_readout() TO causeloop_app;
