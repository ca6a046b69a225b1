-- Outbound delivery: the outbox of webhook deliveries, written in the transaction of the change that caused
-- the event (one row per subscribed destination), claimed by delivery workers across workspaces, retried on
-- a schedule, dead-lettered when the schedule is spent, replayed on request. Per-destination circuit breaker
-- and secret rotation with overlap live on the webhook.

ALTER TABLE webhooks ADD COLUMN circuit_open_until timestamptz;
ALTER TABLE webhooks ADD COLUMN circuit_opens integer NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN secret_previous_encrypted text;
ALTER TABLE webhooks ADD COLUMN secret_previous_until timestamptz;

CREATE TABLE webhook_deliveries (
  workspace_id     text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id               text NOT NULL,
  webhook_id       text NOT NULL,
  event_id         text NOT NULL,
  event_type       text NOT NULL,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivering', 'delivered', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  dead_at          timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, webhook_id) REFERENCES webhooks (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_ws_webhook_idx ON webhook_deliveries (workspace_id, webhook_id, id DESC);
-- Partial: only deliveries still to send, so the claim's scan across workspaces stays small.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (workspace_id, next_attempt_at) WHERE status IN ('pending', 'delivering');
CREATE TRIGGER webhook_deliveries_touch BEFORE UPDATE ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('webhook_deliveries');

-- Claims due deliveries of every workspace (the worker then enters each workspace through the tenant door).
-- A destination whose circuit is open is skipped until it closes; a delivery whose worker died (lease past)
-- is claimed again. Oldest first, so a destination's events go out in the order they happened.
CREATE OR REPLACE FUNCTION claim_deliveries(p_worker text, p_limit integer, p_lease_seconds integer)
  RETURNS TABLE (workspace_id text, id text, webhook_id text, event_id text, event_type text, payload jsonb,
                 attempts integer, created_at timestamptz)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE webhook_deliveries d
     SET status = 'delivering', locked_by = p_worker,
         locked_until = now() + make_interval(secs => p_lease_seconds), attempts = d.attempts + 1
    FROM (SELECT x.workspace_id, x.id FROM webhook_deliveries x
            JOIN webhooks w ON w.workspace_id = x.workspace_id AND w.id = x.webhook_id
           WHERE ((x.status = 'pending' AND x.next_attempt_at <= now())
                  OR (x.status = 'delivering' AND x.locked_until < now()))
             AND (w.circuit_open_until IS NULL OR w.circuit_open_until <= now())
           ORDER BY x.next_attempt_at, x.id
           LIMIT p_limit
           FOR UPDATE OF x SKIP LOCKED) due
   WHERE d.workspace_id = due.workspace_id AND d.id = due.id
  RETURNING d.workspace_id, d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, d.created_at
$$;
REVOKE ALL ON FUNCTION claim_deliveries(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_deliveries(text, integer, integer) TO causeloop_app;

-- Embedded mode has one process: deliveries left in flight belonged to a process that is gone.
CREATE OR REPLACE FUNCTION requeue_orphaned_deliveries() RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  WITH moved AS (
    UPDATE webhook_deliveries SET status = 'pending', locked_by = NULL, locked_until = NULL
     WHERE status = 'delivering' RETURNING 1)
  SELECT count(*)::integer FROM moved
$$;
REVOKE ALL ON FUNCTION requeue_orphaned_deliveries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION requeue_orphaned_deliveries() TO causeloop_app;

-- Sent events are not kept for ever: delivered ones after p_delivered_days, dead letters after p_dead_days.
CREATE OR REPLACE FUNCTION prune_deliveries(p_delivered_days integer, p_dead_days integer) RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM webhook_deliveries
     WHERE (status = 'delivered' AND delivered_at < now() - make_interval(days => p_delivered_days))
        OR (status = 'dead' AND dead_at < now() - make_interval(days => p_dead_days))
    RETURNING 1)
  SELECT count(*)::integer FROM gone
$$;
REVOKE ALL ON FUNCTION prune_deliveries(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION prune_deliveries(integer, integer) TO causeloop_app;
