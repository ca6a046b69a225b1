-- Incident intelligence (issue 20): clusters of "the same problem" with their template, counts and services,
-- the clustering engine's state per workspace (several stateless instances resume it from here), the events
-- of each cluster (activity_events.cluster_id), recurrence patterns with their evidence, predictions scored
-- hit or miss, and recommendations grounded in data with the engineers' feedback.

ALTER TABLE clusters DROP CONSTRAINT IF EXISTS clusters_algorithm_check;
ALTER TABLE clusters ADD CONSTRAINT clusters_algorithm_check CHECK (algorithm IN ('fingerprint', 'embedding', 'manual', 'template'));
ALTER TABLE clusters
  ADD COLUMN template       text NOT NULL DEFAULT '' CHECK (length(template) <= 8192),
  ADD COLUMN event_count    bigint NOT NULL DEFAULT 0 CHECK (event_count >= 0),
  ADD COLUMN first_seen_at  timestamptz,
  ADD COLUMN last_seen_at   timestamptz,
  ADD COLUMN services       text[] NOT NULL DEFAULT '{}',
  ADD COLUMN corrected      boolean NOT NULL DEFAULT false,
  ADD COLUMN merged_into    text;
CREATE INDEX clusters_ws_last_seen_idx ON clusters (workspace_id, last_seen_at DESC);

CREATE TABLE cluster_engine_states (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL DEFAULT 'engine',
  version       bigint NOT NULL DEFAULT 0,
  snapshot      jsonb NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
SELECT protect_tenant_table('cluster_engine_states');

ALTER TABLE activity_events ADD COLUMN cluster_id text;
CREATE INDEX activity_events_ws_cluster_idx ON activity_events (workspace_id, cluster_id, created_at);

ALTER TABLE patterns ADD COLUMN kind text NOT NULL DEFAULT 'manual'
  CHECK (kind IN ('manual', 'periodic', 'time-of-day', 'weekday', 'bursty', 'follows'));
ALTER TABLE patterns ADD COLUMN evidence jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE UNIQUE INDEX patterns_ws_cluster_kind_idx ON patterns (workspace_id, cluster_id, kind) WHERE deleted_at IS NULL AND cluster_id IS NOT NULL;

ALTER TABLE predictions
  ADD COLUMN cluster_id    text,
  ADD COLUMN window_start  timestamptz,
  ADD COLUMN window_end    timestamptz,
  ADD COLUMN outcome       text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'hit', 'miss')),
  ADD COLUMN scored_at     timestamptz;
CREATE INDEX predictions_ws_outcome_idx ON predictions (workspace_id, outcome, window_end);

ALTER TABLE recommendations
  ADD COLUMN kind         text NOT NULL DEFAULT 'manual'
    CHECK (kind IN ('manual', 'similar_resolution', 'missing_runbook', 'mute_noisy_source')),
  ADD COLUMN cluster_id   text,
  ADD COLUMN evidence     jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN dedup_key    text;
-- One live recommendation per reason: the job refreshes it rather than piling up copies.
CREATE UNIQUE INDEX recommendations_ws_dedup_idx ON recommendations (workspace_id, dedup_key) WHERE dedup_key IS NOT NULL;

-- An issue belongs to at most one cluster (events of the cluster update it), and says what resolved it: the
-- resolution is what a recommendation for a similar problem quotes.
ALTER TABLE issues ADD COLUMN cluster_id text;
ALTER TABLE issues ADD COLUMN resolution text CHECK (length(resolution) <= 10000);
CREATE INDEX issues_ws_cluster_idx ON issues (workspace_id, cluster_id);
