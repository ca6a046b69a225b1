-- The audit chain, sequenced after commit (issue 14). audit_append used to take a per-workspace advisory lock,
-- read the chain's head and insert the chained row inside the caller's transaction, so the lock was held
-- through that transaction's commit and WAL flush: in one busy workspace, every write waited for the one
-- before it to reach the disk. Now, as Trillian separates queueing from sequencing:
--   * audit_append queues the event (audit_queue, same columns and checks as audit_log, no chain fields, no
--     lock) in the caller's transaction: the event commits or rolls back with the change it records;
--   * audit_sequence(ws) chains every committed queued event of a workspace, in (created_at, id) order, into
--     audit_log (gapless seq, prev_hash, hash exactly as before) and removes it from the queue, in one short
--     transaction under the same per-workspace lock. Many writers' events are chained by one flush.
-- The server calls audit_sequence right after a transaction that appended commits (before answering), and
-- sweeps every few seconds for what a crashed process left queued (audit_queue_pending); `audit verify`
-- sequences everything first. So no committed event is left out of the chain: it sits in an append-only queue
-- until it is chained. audit_log itself, its canonical form, checkpoints, exports and verifiers are unchanged.

CREATE TABLE audit_queue (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  action        text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
  actor_id      text,
  actor_type    text NOT NULL CHECK (actor_type IN ('user', 'token', 'service_account', 'operator', 'system')),
  target_type   text,
  target_id     text,
  before        jsonb,
  after         jsonb,
  trace_id      text,
  ip            inet,
  user_agent    text,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_queue_ws_order_idx ON audit_queue (workspace_id, created_at, id);
SELECT protect_tenant_table('audit_queue');
REVOKE UPDATE ON audit_queue FROM causeloop_app;

-- Queued events are evidence already: nobody changes them, and only the sequencer (which moves them into the
-- chain) or the purge of a whole tenant removes them. Granted by where the delete comes from (see 0022).
CREATE OR REPLACE FUNCTION audit_queue_guard() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND (audit_called_from('audit_sequence') OR audit_called_from('offboard_client')) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_queue is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_queue_append_only BEFORE UPDATE OR DELETE ON audit_queue
  FOR EACH ROW EXECUTE FUNCTION audit_queue_guard();
CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue
  FOR EACH STATEMENT EXECUTE FUNCTION audit_queue_guard();

-- Same signature and result (the event's id) as before: callers do not change. No lock, no read of the head.
CREATE OR REPLACE FUNCTION audit_append(
  ws text, p_action text, p_actor_id text, p_actor_type text, p_target_type text, p_target_id text,
  p_before jsonb DEFAULT NULL, p_after jsonb DEFAULT NULL, p_trace_id text DEFAULT NULL,
  p_ip inet DEFAULT NULL, p_user_agent text DEFAULT NULL)
  RETURNS text
  LANGUAGE plpgsql
AS $$
DECLARE
  new_id_ text := new_id('aud');
BEGIN
  -- Microsecond precision is what the canonical text carries, so the stored value is truncated to it.
  INSERT INTO audit_queue (workspace_id, id, action, actor_id, actor_type, target_type, target_id, before, after,
                           trace_id, ip, user_agent, created_at)
  VALUES (ws, new_id_, p_action, p_actor_id, p_actor_type, p_target_type, p_target_id, p_before, p_after,
          p_trace_id, p_ip, p_user_agent, date_trunc('microseconds', clock_timestamp()));
  RETURN new_id_;
END $$;

-- Chains a workspace's queued events. Enters the workspace itself (transaction-local workspace and runtime
-- role, as enter_with_pat does), so one statement outside any transaction is a whole sequencing run, and every
-- row is read and written under RLS as causeloop_app. Returns how many events it chained.
CREATE OR REPLACE FUNCTION audit_sequence(ws text) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  q public.audit_queue;
  rec public.audit_log;
  done text[] := '{}';
BEGIN
  PERFORM pg_catalog.set_config('app.current_workspace', ws, true),
          pg_catalog.set_config('role', 'causeloop_app', true);
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('audit:' || ws, 0));
  SELECT a.seq, a.hash INTO last_seq, last_hash FROM public.audit_log a
   WHERE a.workspace_id = ws ORDER BY a.seq DESC LIMIT 1;
  FOR q IN SELECT * FROM public.audit_queue x WHERE x.workspace_id = ws ORDER BY x.created_at, x.id LOOP
    rec.workspace_id := q.workspace_id;
    rec.id := q.id;
    rec.seq := coalesce(last_seq, 0) + 1;
    rec.action := q.action;
    rec.actor_id := q.actor_id;
    rec.actor_type := q.actor_type;
    rec.target_type := q.target_type;
    rec.target_id := q.target_id;
    rec.before := q.before;
    rec.after := q.after;
    rec.trace_id := q.trace_id;
    rec.ip := q.ip;
    rec.user_agent := q.user_agent;
    rec.created_at := q.created_at;
    rec.prev_hash := last_hash;
    rec.hash := encode(sha256(convert_to(coalesce(last_hash, '') || public.audit_canonical(rec), 'UTF8')), 'hex');
    INSERT INTO public.audit_log SELECT rec.*;
    last_seq := rec.seq;
    last_hash := rec.hash;
    done := done || q.id;
  END LOOP;
  IF cardinality(done) > 0 THEN
    DELETE FROM public.audit_queue x WHERE x.workspace_id = ws AND x.id = ANY (done);
  END IF;
  RETURN cardinality(done);
END $$;
REVOKE ALL ON FUNCTION audit_sequence(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_sequence(text) TO causeloop_app;

-- Workspaces with events queued for at least p_min_age: the sweep's list (ids only; it then sequences each
-- through audit_sequence, under RLS). SECURITY DEFINER because the runtime role sees one workspace at a time.
CREATE OR REPLACE FUNCTION audit_queue_pending(p_min_age interval)
  RETURNS TABLE (workspace_id text, queued bigint)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT q.workspace_id, count(*) FROM audit_queue q
   WHERE q.created_at <= now() - p_min_age
   GROUP BY q.workspace_id
$$;
REVOKE ALL ON FUNCTION audit_queue_pending(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_queue_pending(interval) TO causeloop_app;
