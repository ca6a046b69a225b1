-- Audit streaming to a customer's SIEM (a generic HTTPS JSON collector, or Splunk's HTTP Event Collector):
-- each stream has a durable cursor, the last audit seq its destination acknowledged. A streamer claims a
-- stream (one at a time: the lease), sends the rows after the cursor in order, in batches, and moves the
-- cursor only after a 2xx; a failure keeps the cursor and retries later. Nothing is skipped or lost, and a
-- batch sent twice (a crash after the send) carries the same id, so the receiver deduplicates it.

CREATE TABLE audit_streams (
  workspace_id     text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id               text NOT NULL,
  url              text NOT NULL CHECK (url ~ '^https?://'),
  format           text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'splunk_hec')),
  token_encrypted  text,
  batch_size       integer NOT NULL DEFAULT 500 CHECK (batch_size BETWEEN 1 AND 5000),
  cursor_seq       bigint NOT NULL DEFAULT 0,
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
  failure_count    integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_status      integer,
  last_error       text,
  last_sent_at     timestamptz,
  created_by       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_streams_ws_created_idx ON audit_streams (workspace_id, id DESC);
CREATE TRIGGER audit_streams_touch BEFORE UPDATE ON audit_streams FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('audit_streams');

-- Claims active streams of every workspace that have rows after their cursor and are due, one worker each.
CREATE OR REPLACE FUNCTION claim_audit_streams(p_worker text, p_limit integer, p_lease_seconds integer)
  RETURNS TABLE (workspace_id text, id text, cursor_seq bigint)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE audit_streams s
     SET locked_by = p_worker, locked_until = now() + make_interval(secs => p_lease_seconds)
    FROM (SELECT x.workspace_id, x.id FROM audit_streams x
           WHERE x.status = 'active' AND x.deleted_at IS NULL AND x.next_attempt_at <= now()
             AND (x.locked_until IS NULL OR x.locked_until < now())
             AND EXISTS (SELECT 1 FROM audit_log a WHERE a.workspace_id = x.workspace_id AND a.seq > x.cursor_seq)
           ORDER BY x.next_attempt_at
           LIMIT p_limit
           FOR UPDATE OF x SKIP LOCKED) due
   WHERE s.workspace_id = due.workspace_id AND s.id = due.id
  RETURNING s.workspace_id, s.id, s.cursor_seq
$$;
REVOKE ALL ON FUNCTION claim_audit_streams(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_audit_streams(text, integer, integer) TO causeloop_app;

-- Embedded mode has one process: streams locked at start were locked by a process that is gone.
CREATE OR REPLACE FUNCTION release_audit_stream_locks() RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  WITH freed AS (
    UPDATE audit_streams SET locked_by = NULL, locked_until = NULL WHERE locked_by IS NOT NULL RETURNING 1)
  SELECT count(*)::integer FROM freed
$$;
REVOKE ALL ON FUNCTION release_audit_stream_locks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION release_audit_stream_locks() TO causeloop_app;
