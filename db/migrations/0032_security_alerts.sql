-- Security alerting. Alerts are deduplicated (one open alert per rule and subject, its occurrences counted)
-- and stored per workspace (security_alerts, under RLS) or for the operator (operator_alerts, global: the
-- installation's own failures such as an isolation attestation that failed). Rules over the audit trail run in
-- the transaction that appends the row (a trigger), so no path that writes the trail can skip them; rules over
-- the request stream (rate limits, 404 bursts) run in the server. Thresholds live in security_alert_rules.

CREATE TABLE security_alert_rules (
  rule            text PRIMARY KEY,
  description     text NOT NULL,
  threshold       integer NOT NULL CHECK (threshold > 0),
  window_seconds  integer NOT NULL CHECK (window_seconds > 0),
  severity        text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
  enabled         boolean NOT NULL DEFAULT true,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON security_alert_rules TO causeloop_app;
INSERT INTO security_alert_rules (rule, description, threshold, window_seconds, severity) VALUES
  ('failed_logins_account', 'Failed sign-ins to one account', 5, 900, 'high'),
  ('password_spraying', 'Failed sign-ins to many accounts from one address', 5, 900, 'critical'),
  ('rate_limited_credential', 'One credential refused by the rate limits again and again', 20, 300, 'medium'),
  ('cross_tenant_probing', 'One credential asking for ids that are not its workspace''s (404s)', 20, 300, 'high'),
  ('mfa_disabled', 'Two-factor authentication turned off', 1, 60, 'high'),
  ('new_owner', 'A member made owner', 1, 60, 'high'),
  ('admin_token_created', 'An access token with admin scopes created', 1, 60, 'medium'),
  ('audit_verification_failed', 'An audit chain failed verification', 1, 60, 'critical'),
  ('isolation_attestation_failed', 'Tenant isolation attestation failed', 1, 60, 'critical'),
  ('backup_stale', 'No recent successful backup or restore drill', 1, 60, 'high');

CREATE TABLE security_alerts (
  workspace_id     text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id               text NOT NULL,
  rule             text NOT NULL,
  severity         text NOT NULL DEFAULT 'medium' CHECK (severity IN ('critical', 'high', 'medium', 'low')),
  summary          text NOT NULL,
  details          jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedup_key        text NOT NULL,
  occurrences      integer NOT NULL DEFAULT 1,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  ack_note         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX security_alerts_open_idx ON security_alerts (workspace_id, dedup_key) WHERE status = 'open';
CREATE INDEX security_alerts_ws_status_idx ON security_alerts (workspace_id, status, id DESC);
CREATE TRIGGER security_alerts_touch BEFORE UPDATE ON security_alerts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('security_alerts');

CREATE TABLE operator_alerts (
  id               text PRIMARY KEY,
  rule             text NOT NULL,
  severity         text NOT NULL DEFAULT 'medium' CHECK (severity IN ('critical', 'high', 'medium', 'low')),
  summary          text NOT NULL,
  details          jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedup_key        text NOT NULL,
  occurrences      integer NOT NULL DEFAULT 1,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  ack_note         text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operator_alerts_open_idx ON operator_alerts (dedup_key) WHERE status = 'open';
CREATE TRIGGER operator_alerts_touch BEFORE UPDATE ON operator_alerts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- Raises (or, when one is open for the same subject, counts again) a workspace alert; a new alert is also
-- written to the outbox for every webhook subscribed to security.alert. Returns the alert id. Runs as the
-- caller inside the tenant door: RLS holds.
CREATE OR REPLACE FUNCTION raise_security_alert(
  ws text, p_rule text, p_summary text, p_details jsonb, p_dedup_key text)
  RETURNS text
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
AS $$
DECLARE
  r security_alert_rules%ROWTYPE;
  alert_id text;
  alert_severity text;
  alert_summary text;
  alert_details jsonb;
  alert_first timestamptz;
  inserted boolean;
  event_id text;
BEGIN
  SELECT * INTO r FROM security_alert_rules WHERE rule = p_rule;
  IF NOT FOUND OR NOT r.enabled THEN RETURN NULL; END IF;
  INSERT INTO security_alerts AS a (workspace_id, id, rule, severity, summary, details, dedup_key)
  VALUES (ws, new_id('alr'), p_rule, r.severity, p_summary, coalesce(p_details, '{}'::jsonb), p_dedup_key)
  ON CONFLICT (workspace_id, dedup_key) WHERE status = 'open'
  DO UPDATE SET occurrences = a.occurrences + 1, last_seen_at = now(), details = EXCLUDED.details,
                summary = EXCLUDED.summary
  RETURNING a.id, a.severity, a.summary, a.details, a.first_seen_at, (a.xmax = 0)
       INTO alert_id, alert_severity, alert_summary, alert_details, alert_first, inserted;
  IF inserted THEN
    event_id := new_id('msg');
    INSERT INTO webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload)
    SELECT ws, new_id('dlv'), w.id, event_id, 'security.alert',
           jsonb_build_object('type', 'security.alert',
                              'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                              'data', jsonb_build_object('id', alert_id, 'rule', p_rule, 'severity', alert_severity,
                                                         'summary', alert_summary, 'details', alert_details,
                                                         'first_seen_at', alert_first))
      FROM webhooks w
     WHERE w.workspace_id = ws AND w.deleted_at IS NULL AND w.status <> 'disabled'
       AND (cardinality(w.events) = 0 OR 'security.alert' = ANY (w.events) OR 'security.*' = ANY (w.events)
            OR '*' = ANY (w.events));
  END IF;
  RETURN alert_id;
END $$;
GRANT EXECUTE ON FUNCTION raise_security_alert(text, text, text, jsonb, text) TO causeloop_app;

-- The operator's alerts: the installation's own (isolation, audit verification, backups). Callable by the
-- runtime role (an attestation without an owner connection still raises it), never readable by it.
CREATE OR REPLACE FUNCTION raise_operator_alert(p_rule text, p_summary text, p_details jsonb, p_dedup_key text)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  r security_alert_rules%ROWTYPE;
  alert_id text;
BEGIN
  SELECT * INTO r FROM security_alert_rules WHERE rule = p_rule;
  IF NOT FOUND OR NOT r.enabled THEN RETURN NULL; END IF;
  INSERT INTO operator_alerts AS a (id, rule, severity, summary, details, dedup_key)
  VALUES (new_id('alr'), p_rule, r.severity, p_summary, coalesce(p_details, '{}'::jsonb), p_dedup_key)
  ON CONFLICT (dedup_key) WHERE status = 'open'
  DO UPDATE SET occurrences = a.occurrences + 1, last_seen_at = now(), details = EXCLUDED.details,
                summary = EXCLUDED.summary
  RETURNING a.id INTO alert_id;
  RETURN alert_id;
END $$;
REVOKE ALL ON FUNCTION raise_operator_alert(text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION raise_operator_alert(text, text, jsonb, text) TO causeloop_app;

-- The condition is gone (the next attestation passed): its open alert resolves itself, kept as history.
CREATE OR REPLACE FUNCTION resolve_operator_alert(p_dedup_key text) RETURNS integer
  LANGUAGE sql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  WITH done AS (
    UPDATE operator_alerts SET status = 'resolved' WHERE dedup_key = p_dedup_key AND status = 'open' RETURNING 1)
  SELECT count(*)::integer FROM done
$$;
REVOKE ALL ON FUNCTION resolve_operator_alert(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION resolve_operator_alert(text) TO causeloop_app;

-- The rules over the audit trail, evaluated as each row is appended.
CREATE OR REPLACE FUNCTION audit_alert_rules() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = public, pg_temp
AS $$
DECLARE
  r security_alert_rules%ROWTYPE;
  n integer;
  admin_scopes constant text[] := ARRAY['members:write', 'audit:read', 'governance:read', 'governance:write',
                                        'settings:write', 'connectors:write', 'webhooks:write', 'keys:manage'];
BEGIN
  IF NEW.action = 'auth.login_failed' THEN
    IF NEW.target_id IS NOT NULL THEN
      SELECT * INTO r FROM security_alert_rules WHERE rule = 'failed_logins_account';
      SELECT count(*) INTO n FROM audit_log
       WHERE workspace_id = NEW.workspace_id AND target_type = 'user' AND target_id = NEW.target_id
         AND action = 'auth.login_failed' AND created_at > now() - make_interval(secs => r.window_seconds);
      IF n >= r.threshold THEN
        PERFORM raise_security_alert(NEW.workspace_id, 'failed_logins_account',
          format('%s failed sign-ins to one account within %s minutes', n, r.window_seconds / 60),
          jsonb_build_object('user_id', NEW.target_id, 'failures', n, 'last_ip', host(NEW.ip)),
          'failed_logins_account:' || NEW.target_id);
      END IF;
    END IF;
    IF NEW.ip IS NOT NULL THEN
      SELECT * INTO r FROM security_alert_rules WHERE rule = 'password_spraying';
      SELECT count(DISTINCT target_id) INTO n FROM audit_log
       WHERE workspace_id = NEW.workspace_id AND created_at > now() - make_interval(secs => r.window_seconds)
         AND action = 'auth.login_failed' AND ip = NEW.ip;
      IF n >= r.threshold THEN
        PERFORM raise_security_alert(NEW.workspace_id, 'password_spraying',
          format('failed sign-ins to %s accounts from %s within %s minutes', n, host(NEW.ip), r.window_seconds / 60),
          jsonb_build_object('ip', host(NEW.ip), 'accounts', n),
          'password_spraying:' || host(NEW.ip));
      END IF;
    END IF;
  ELSIF NEW.action = 'mfa.disabled' THEN
    PERFORM raise_security_alert(NEW.workspace_id, 'mfa_disabled', 'two-factor authentication was turned off',
      jsonb_build_object('user_id', coalesce(NEW.target_id, NEW.actor_id), 'by', NEW.actor_id, 'ip', host(NEW.ip)),
      'mfa_disabled:' || NEW.id);
  ELSIF NEW.action IN ('member.role_changed', 'member.invited', 'member.provisioned')
        AND NEW.after ->> 'role' = 'owner' THEN
    PERFORM raise_security_alert(NEW.workspace_id, 'new_owner', 'a member was made owner',
      jsonb_build_object('member', NEW.target_id, 'by', NEW.actor_id, 'previous_role', NEW.before ->> 'role'),
      'new_owner:' || NEW.id);
  ELSIF NEW.action = 'token.created' AND NEW.after ->> 'role' IN ('admin', 'owner')
        AND (NEW.after -> 'scopes' ? '*' OR NEW.after -> 'scopes' ?| admin_scopes) THEN
    PERFORM raise_security_alert(NEW.workspace_id, 'admin_token_created', 'an access token with admin scopes was created',
      jsonb_build_object('token_id', NEW.target_id, 'by', NEW.actor_id, 'scopes', NEW.after -> 'scopes'),
      'admin_token_created:' || NEW.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_log_alert_rules AFTER INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_alert_rules();

-- The operator's destination (CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL): each new operator alert is sent once,
-- retried until it is; serve reads the pending ones and marks them sent (the runtime role reads no more).
ALTER TABLE operator_alerts ADD COLUMN notified_at timestamptz;
ALTER TABLE operator_alerts ADD COLUMN notify_attempts integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION operator_alerts_to_notify(p_limit integer)
  RETURNS TABLE (id text, rule text, severity text, summary text, details jsonb, first_seen_at timestamptz,
                 notify_attempts integer)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT id, rule, severity, summary, details, first_seen_at, notify_attempts FROM operator_alerts
   WHERE notified_at IS NULL ORDER BY id LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION operator_alerts_to_notify(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION operator_alerts_to_notify(integer) TO causeloop_app;

CREATE OR REPLACE FUNCTION operator_alert_notified(p_id text, p_ok boolean) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  UPDATE operator_alerts SET notified_at = CASE WHEN p_ok THEN now() ELSE NULL END,
                             notify_attempts = notify_attempts + 1
   WHERE id = p_id
$$;
REVOKE ALL ON FUNCTION operator_alert_notified(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION operator_alert_notified(text, boolean) TO causeloop_app;
