-- Product core: issues, patterns, predictions, recommendations, clusters and the activity stream.

CREATE TABLE issues (
  workspace_id    text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id              text NOT NULL,
  title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  body            text NOT NULL DEFAULT '' CHECK (length(body) <= 100000),
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'investigating', 'mitigated', 'resolved', 'closed')),
  severity        text NOT NULL DEFAULT 'medium' CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
  source          text,
  fingerprint     text,
  reporter_email  text,
  created_by      text,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
  first_seen_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX issues_ws_created_idx ON issues (workspace_id, created_at DESC, id DESC);
CREATE INDEX issues_ws_status_idx ON issues (workspace_id, status, severity);
CREATE INDEX issues_ws_created_by_idx ON issues (workspace_id, created_by);
CREATE INDEX issues_ws_reporter_idx ON issues (workspace_id, reporter_email);
CREATE TRIGGER issues_touch BEFORE UPDATE ON issues FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('issues');

CREATE TABLE clusters (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  label         text NOT NULL,
  algorithm     text NOT NULL DEFAULT 'fingerprint' CHECK (algorithm IN ('fingerprint', 'embedding', 'manual')),
  issue_ids     text[] NOT NULL DEFAULT '{}',
  centroid      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX clusters_ws_created_idx ON clusters (workspace_id, created_at DESC);
CREATE TRIGGER clusters_touch BEFORE UPDATE ON clusters FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('clusters');

CREATE TABLE patterns (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  cluster_id    text,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
  description   text NOT NULL DEFAULT '',
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('candidate', 'active', 'dismissed', 'archived')),
  risk_score    numeric(5, 4) NOT NULL DEFAULT 0 CHECK (risk_score BETWEEN 0 AND 1),
  signature     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, cluster_id) REFERENCES clusters (workspace_id, id) ON DELETE SET NULL (cluster_id)
);
CREATE INDEX patterns_ws_created_idx ON patterns (workspace_id, created_at DESC);
CREATE INDEX patterns_ws_cluster_idx ON patterns (workspace_id, cluster_id);
CREATE TRIGGER patterns_touch BEFORE UPDATE ON patterns FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('patterns');

CREATE TABLE predictions (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  pattern_id    text NOT NULL,
  issue_id      text,
  probability   numeric(5, 4) NOT NULL CHECK (probability BETWEEN 0 AND 1),
  horizon_hours integer NOT NULL DEFAULT 24 CHECK (horizon_hours > 0),
  explanation   text NOT NULL DEFAULT '',
  model         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, pattern_id) REFERENCES patterns (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, issue_id) REFERENCES issues (workspace_id, id) ON DELETE SET NULL (issue_id)
);
CREATE INDEX predictions_ws_created_idx ON predictions (workspace_id, created_at DESC);
CREATE INDEX predictions_ws_pattern_idx ON predictions (workspace_id, pattern_id);
CREATE INDEX predictions_ws_issue_idx ON predictions (workspace_id, issue_id);
SELECT protect_tenant_table('predictions');

CREATE TABLE recommendations (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  issue_id      text,
  pattern_id    text,
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  body          text NOT NULL DEFAULT '',
  status        text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'accepted', 'rejected', 'applied')),
  decided_by    text,
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, issue_id) REFERENCES issues (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, pattern_id) REFERENCES patterns (workspace_id, id) ON DELETE SET NULL (pattern_id)
);
CREATE INDEX recommendations_ws_created_idx ON recommendations (workspace_id, created_at DESC);
CREATE INDEX recommendations_ws_issue_idx ON recommendations (workspace_id, issue_id);
CREATE INDEX recommendations_ws_pattern_idx ON recommendations (workspace_id, pattern_id);
CREATE TRIGGER recommendations_touch BEFORE UPDATE ON recommendations FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT protect_tenant_table('recommendations');

CREATE TABLE activity_events (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  issue_id      text,
  actor_id      text,
  actor_type    text NOT NULL DEFAULT 'user' CHECK (actor_type IN ('user', 'token', 'service_account', 'operator', 'system', 'integration')),
  kind          text NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)*$'),
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, issue_id) REFERENCES issues (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX activity_events_ws_created_idx ON activity_events (workspace_id, created_at DESC);
CREATE INDEX activity_events_ws_issue_idx ON activity_events (workspace_id, issue_id, created_at DESC);
CREATE INDEX activity_events_ws_actor_idx ON activity_events (workspace_id, actor_id);
SELECT protect_tenant_table('activity_events');
