-- Governance: the append-only audit log, exports, erasure requests and the compliance log.

CREATE TABLE audit_log (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  seq           bigint NOT NULL,
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
  prev_hash     text,
  hash          text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, seq)
);
CREATE INDEX audit_log_ws_created_idx ON audit_log (workspace_id, created_at DESC);
CREATE INDEX audit_log_ws_actor_idx ON audit_log (workspace_id, actor_id, created_at DESC);
CREATE INDEX audit_log_ws_target_idx ON audit_log (workspace_id, target_type, target_id);
SELECT protect_tenant_table('audit_log');
-- The app role appends and reads; it never changes history.
REVOKE UPDATE, DELETE ON audit_log FROM causeloop_app;

-- Append-only for every role, superusers included. The single exception is audit_log_purge_expired() below,
-- which the retention job uses: it may delete only rows older than the 365-day compliance floor.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('causeloop.audit_purge', true) = 'on'
     AND OLD.created_at < now() - interval '365 days' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE OR REPLACE FUNCTION audit_log_no_truncate() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: TRUNCATE rejected' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate();

-- The retention path: deletes one workspace's audit rows created before `older_than`, never any younger
-- than the compliance floor (the trigger re-checks each row). Returns the number of rows deleted.
CREATE OR REPLACE FUNCTION audit_log_purge_expired(ws text, older_than timestamptz, max_rows integer DEFAULT 5000)
  RETURNS integer
  LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  PERFORM set_config('causeloop.audit_purge', 'on', true);
  DELETE FROM audit_log a
   WHERE (a.workspace_id, a.id) IN (
     SELECT workspace_id, id FROM audit_log
      WHERE workspace_id = ws
        AND created_at < least(older_than, now() - interval '365 days')
      ORDER BY created_at
      LIMIT max_rows);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('causeloop.audit_purge', 'off', true);
  RETURN n;
END $$;

CREATE TABLE export_jobs (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed', 'expired')),
  format         text NOT NULL DEFAULT 'ndjson' CHECK (format IN ('ndjson', 'json')),
  requested_by   text,
  storage_kind   text CHECK (storage_kind IN ('local', 's3')),
  storage_key    text,
  size_bytes     bigint,
  sha256         text,
  manifest       jsonb,
  error          text,
  started_at     timestamptz,
  completed_at   timestamptz,
  expires_at     timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX export_jobs_ws_created_idx ON export_jobs (workspace_id, created_at DESC);
CREATE TRIGGER export_jobs_touch BEFORE UPDATE ON export_jobs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('export_jobs');

CREATE TABLE rtbf_requests (
  workspace_id    text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id              text NOT NULL,
  subject_ref     text NOT NULL CHECK (subject_ref ~ '^[0-9a-f]{64}$'),
  subject_email   text,
  mode            text NOT NULL DEFAULT 'erasure' CHECK (mode IN ('erasure')),
  status          text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'verifying', 'approved', 'processing', 'completed', 'rejected', 'on_hold')),
  reason          text,
  status_reason   text,
  requested_by    text,
  decided_by      text,
  received_at     timestamptz NOT NULL DEFAULT now(),
  due_at          timestamptz NOT NULL DEFAULT now() + interval '30 days',
  decided_at      timestamptz,
  completed_at    timestamptz,
  result          jsonb,
  certificate     text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX rtbf_requests_ws_due_idx ON rtbf_requests (workspace_id, status, due_at);
CREATE UNIQUE INDEX rtbf_requests_ws_active_subject_idx ON rtbf_requests (workspace_id, subject_ref)
  WHERE status NOT IN ('completed', 'rejected');
CREATE TRIGGER rtbf_requests_touch BEFORE UPDATE ON rtbf_requests FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('rtbf_requests');

CREATE TABLE compliance_log (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('retention.run', 'rtbf.transition', 'export.created', 'export.completed', 'export.expired', 'offboarding')),
  subject_ref   text,
  actor_id      text,
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX compliance_log_ws_created_idx ON compliance_log (workspace_id, created_at DESC, id DESC);
CREATE INDEX compliance_log_ws_kind_idx ON compliance_log (workspace_id, kind, created_at DESC);
SELECT protect_tenant_table('compliance_log');
