-- The scrape-time readout of the Prometheus metrics (src/observability/): what the runtime role cannot see
-- itself (every workspace's job queue, audit chain and delivery outbox, the operator log), in one statement. Aggregates only:
-- counts, ages and timestamps per job kind, per scheduled job, per chain (a workspace id, or 'operator');
-- never a row's content. Only chains with unsigned events are listed, so the answer stays small.
CREATE OR REPLACE FUNCTION metrics_readout() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT jsonb_build_object(
    'jobs', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'kind', q.kind, 'queued', q.queued, 'running', q.running, 'oldest_due_seconds', q.oldest_due)), '[]'::jsonb)
        FROM (SELECT kind,
                     count(*) FILTER (WHERE status = 'queued') AS queued,
                     count(*) FILTER (WHERE status = 'running') AS running,
                     coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'queued' AND run_at <= now())), 0)::float8 AS oldest_due
                FROM jobs
               WHERE status IN ('queued', 'running')
               GROUP BY kind) q),
    'scheduler', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job', r.job, 'last_success', r.last_success, 'last_failure', r.last_failure)), '[]'::jsonb)
        FROM (SELECT job,
                     extract(epoch FROM max(finished_at) FILTER (WHERE outcome = 'succeeded'))::float8 AS last_success,
                     extract(epoch FROM max(finished_at) FILTER (WHERE outcome = 'failed'))::float8 AS last_failure
                FROM scheduler_runs
               GROUP BY job) r),
    'audit', (
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'chain', c.chain, 'unsigned', c.unsigned, 'oldest_unsigned_seconds', c.oldest)), '[]'::jsonb)
        FROM (SELECT w.id AS chain, last_row.seq - last_cp.seq AS unsigned,
                     coalesce(extract(epoch FROM now() - (SELECT a.created_at FROM audit_log a
                                                           WHERE a.workspace_id = w.id AND a.seq = last_cp.seq + 1)), 0)::float8 AS oldest
                FROM workspaces w
                CROSS JOIN LATERAL (SELECT max(a.seq) AS seq FROM audit_log a WHERE a.workspace_id = w.id) last_row
                CROSS JOIN LATERAL (SELECT coalesce(max(k.seq), 0) AS seq FROM audit_checkpoints k WHERE k.workspace_id = w.id) last_cp
               WHERE last_row.seq > last_cp.seq
              UNION ALL
              SELECT 'operator', coalesce(max(l.seq), 0) - cp.seq,
                     coalesce(extract(epoch FROM now() - min(l.created_at)), 0)::float8
                FROM (SELECT coalesce(max(seq), 0) AS seq FROM operator_log_checkpoints) cp
                LEFT JOIN operator_log l ON l.seq > cp.seq
               GROUP BY cp.seq) c),
    'deliveries', (
      SELECT jsonb_build_object(
               'pending', count(*) FILTER (WHERE status IN ('pending', 'delivering')),
               'dead', count(*) FILTER (WHERE status = 'dead'),
               'oldest_due_seconds', coalesce(extract(epoch FROM now() - min(next_attempt_at)
                                       FILTER (WHERE status = 'pending' AND next_attempt_at <= now())), 0)::float8,
               'circuits_open', (SELECT count(*) FROM webhooks WHERE circuit_open_until > now() AND deleted_at IS NULL))
        FROM webhook_deliveries WHERE status IN ('pending', 'delivering', 'dead'))
  )
$$;
REVOKE ALL ON FUNCTION metrics_readout() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION metrics_readout() TO causeloop_app;
