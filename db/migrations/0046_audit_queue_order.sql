-- Queues ordered by time (queued audit events by (created_at, id), 0043; webhook deliveries by
-- (next_attempt_at, id), 0030) were stamped with clock_timestamp(). The embedded engine's clock moves in whole
-- milliseconds and ids made in one millisecond are in random order, so two events of one request (an erasure
-- approved, then processing; an issue updated, then resolved) could come out swapped once the engine got fast
-- enough to make both within a millisecond. queue_clock() is clock_timestamp() made strictly increasing per
-- connection: a value that would not be later than the previous one this connection took is a microsecond
-- after it (microseconds are what the audit's canonical text carries). The last value is a session setting;
-- a rolled-back transaction takes its change back, which only lets the next stamp be the real clock again.
CREATE OR REPLACE FUNCTION queue_clock() RETURNS timestamptz
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  at_ timestamptz := date_trunc('microseconds', clock_timestamp());
  last_ timestamptz := nullif(current_setting('causeloop.queue_clock', true), '')::timestamptz;
BEGIN
  IF last_ IS NOT NULL AND at_ <= last_ THEN
    at_ := last_ + interval '1 microsecond';
  END IF;
  PERFORM set_config('causeloop.queue_clock', at_::text, false);
  RETURN at_;
END $$;
GRANT EXECUTE ON FUNCTION queue_clock() TO causeloop_app;

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
  INSERT INTO audit_queue (workspace_id, id, action, actor_id, actor_type, target_type, target_id, before, after,
                           trace_id, ip, user_agent, created_at)
  VALUES (ws, new_id_, p_action, p_actor_id, p_actor_type, p_target_type, p_target_id, p_before, p_after,
          p_trace_id, p_ip, p_user_agent, queue_clock());
  RETURN new_id_;
END $$;
