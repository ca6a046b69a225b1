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

-- The canonical text's functions declared STABLE instead of IMMUTABLE (their bodies, and so the bytes, are
-- unchanged): to_char() is STABLE, so PostgreSQL never inlined the IMMUTABLE versions and ran them as separate
-- SQL-function calls per row (about 0.1 ms each, most of the cost of chaining an event); STABLE lets the
-- planner inline both.
ALTER FUNCTION audit_time(timestamptz) STABLE;
ALTER FUNCTION audit_canonical(audit_log) STABLE;

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
-- row is read and written under RLS as causeloop_app. Returns how many events it chained. Call it as a
-- transaction of its own: it commits without waiting for the WAL flush (synchronous_commit off, transaction-
-- local). That is safe because the events themselves were committed durably by their own transactions: a
-- crash can lose only a run whose WAL had not reached the disk, and such a run is lost whole (its chain rows
-- and its removal from the queue together), so the sweep chains those events again, in the same order. Any
-- later durable commit (a checkpoint, a stream cursor) flushes the WAL before it, runs included. Without this,
-- runs, which the lock serializes, each waited for a flush of their own.
CREATE OR REPLACE FUNCTION audit_sequence(ws text) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  ids text[];
  canons text[];
  prevs text[] := '{}';
  hashes text[] := '{}';
  h text;
BEGIN
  PERFORM pg_catalog.set_config('app.current_workspace', ws, true),
          pg_catalog.set_config('role', 'causeloop_app', true),
          pg_catalog.set_config('synchronous_commit', 'off', true);
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('audit:' || ws, 0));
  SELECT a.seq, a.hash INTO last_seq, last_hash FROM public.audit_log a
   WHERE a.workspace_id = ws ORDER BY a.seq DESC LIMIT 1;
  last_seq := coalesce(last_seq, 0);
  -- Set-based where it can be: the queued events in chain order with their canonical text (seq included),
  -- in one query; then only the hash links, which depend on each other, one by one; then one INSERT and
  -- one DELETE. The ROW follows audit_log's column order (prev_hash and hash are not in the canonical text).
  SELECT array_agg(o.id ORDER BY o.n), array_agg(public.audit_canonical(o.r) ORDER BY o.n)
    INTO ids, canons
    FROM (SELECT x.id, x.n,
                 ROW(x.workspace_id, x.id, last_seq + x.n, x.action, x.actor_id, x.actor_type, x.target_type,
                     x.target_id, x.before, x.after, x.trace_id, x.ip, x.user_agent, NULL, NULL,
                     x.created_at)::public.audit_log AS r
            FROM (SELECT q.*, row_number() OVER (ORDER BY q.created_at, q.id) AS n
                    FROM public.audit_queue q WHERE q.workspace_id = ws) x) o;
  IF ids IS NULL THEN
    RETURN 0;
  END IF;
  h := last_hash;
  FOR i IN 1 .. cardinality(ids) LOOP
    prevs := prevs || h;
    h := encode(sha256(convert_to(coalesce(h, '') || canons[i], 'UTF8')), 'hex');
    hashes := hashes || h;
  END LOOP;
  INSERT INTO public.audit_log (workspace_id, id, seq, action, actor_id, actor_type, target_type, target_id, before,
                                after, trace_id, ip, user_agent, prev_hash, hash, created_at)
  SELECT q.workspace_id, q.id, last_seq + u.n, q.action, q.actor_id, q.actor_type, q.target_type, q.target_id,
         q.before, q.after, q.trace_id, q.ip, q.user_agent, u.prev, u.hash, q.created_at
    FROM unnest(ids, prevs, hashes) WITH ORDINALITY AS u (id, prev, hash, n)
    JOIN public.audit_queue q ON q.workspace_id = ws AND q.id = u.id
   ORDER BY u.n;
  DELETE FROM public.audit_queue x WHERE x.workspace_id = ws AND x.id = ANY (ids);
  RETURN cardinality(ids);
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
