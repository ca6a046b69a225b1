-- Encryption keys, orchestration and idempotency.

CREATE TABLE workspace_keys (
  workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id             text NOT NULL,
  version        integer NOT NULL CHECK (version > 0),
  kek_version    integer NOT NULL CHECK (kek_version > 0),
  wrapped_dek    text NOT NULL,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired', 'destroyed')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  rotated_at     timestamptz,
  destroyed_at   timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, version)
);
CREATE UNIQUE INDEX workspace_keys_ws_active_idx ON workspace_keys (workspace_id) WHERE status = 'active';
SELECT protect_tenant_table('workspace_keys');

CREATE TABLE workflow_runs (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  workflow      text NOT NULL,
  issue_id      text,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
  input         jsonb NOT NULL DEFAULT '{}'::jsonb,
  output        jsonb,
  error         text,
  triggered_by  text,
  started_at    timestamptz,
  finished_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, issue_id) REFERENCES issues (workspace_id, id) ON DELETE SET NULL (issue_id)
);
CREATE INDEX workflow_runs_ws_created_idx ON workflow_runs (workspace_id, created_at DESC);
CREATE INDEX workflow_runs_ws_issue_idx ON workflow_runs (workspace_id, issue_id);
CREATE TRIGGER workflow_runs_touch BEFORE UPDATE ON workflow_runs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('workflow_runs');

CREATE TABLE jobs (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  kind          text NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)*$'),
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
  run_at        timestamptz NOT NULL DEFAULT now(),
  locked_by     text,
  locked_until  timestamptz,
  last_error    text,
  result        jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX jobs_ws_ready_idx ON jobs (workspace_id, status, run_at);
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('jobs');

CREATE TABLE idempotency_keys (
  workspace_id    text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id              text NOT NULL,
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  actor_id        text,
  method          text NOT NULL,
  path            text NOT NULL,
  request_hash    text NOT NULL,
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX idempotency_keys_ws_expires_idx ON idempotency_keys (workspace_id, expires_at);
SELECT protect_tenant_table('idempotency_keys');
