-- Ingestion: every event received through an inbound webhook or imported, normalized. A vendor's event id is
-- accepted once per (workspace, source); the event points at the issue it opened, updated or resolved. Kept as
-- long as the workspace keeps activity events (activity_retention_days).

CREATE TABLE ingested_events (
  workspace_id        text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id                  text NOT NULL,
  inbound_webhook_id  text,
  source              text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  vendor_event_id     text NOT NULL CHECK (length(vendor_event_id) BETWEEN 1 AND 300),
  fingerprint         text NOT NULL CHECK (length(fingerprint) BETWEEN 1 AND 400),
  title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  message             text NOT NULL DEFAULT '' CHECK (length(message) <= 10000),
  service             text CHECK (length(service) <= 200),
  environment         text CHECK (length(environment) <= 200),
  severity            text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
  status              text NOT NULL CHECK (status IN ('firing', 'resolved')),
  occurred_at         timestamptz NOT NULL,
  link                text CHECK (length(link) <= 2000),
  issue_id            text,
  activity_event_id   text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  FOREIGN KEY (workspace_id, inbound_webhook_id) REFERENCES inbound_webhooks (workspace_id, id) ON DELETE SET NULL (inbound_webhook_id),
  FOREIGN KEY (workspace_id, issue_id) REFERENCES issues (workspace_id, id) ON DELETE SET NULL (issue_id)
);
CREATE UNIQUE INDEX ingested_events_ws_source_event_idx ON ingested_events (workspace_id, source, vendor_event_id);
CREATE INDEX ingested_events_ws_created_idx ON ingested_events (workspace_id, created_at);
CREATE INDEX ingested_events_ws_issue_idx ON ingested_events (workspace_id, issue_id);
CREATE INDEX ingested_events_ws_webhook_idx ON ingested_events (workspace_id, inbound_webhook_id);
SELECT protect_tenant_table('ingested_events');

-- Issues are found by fingerprint on every event.
CREATE INDEX issues_ws_fingerprint_idx ON issues (workspace_id, fingerprint, last_seen_at DESC) WHERE deleted_at IS NULL;

-- A connector turns to 'error' after repeated failures in a row (refused signatures, unreadable payloads).
ALTER TABLE connectors ADD COLUMN failure_count integer NOT NULL DEFAULT 0 CHECK (failure_count >= 0);
