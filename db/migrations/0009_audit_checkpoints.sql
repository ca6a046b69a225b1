-- Signed checkpoints of each workspace's audit hash chain (Ed25519; the payload is documented in
-- src/audit/checkpoints.ts). A checkpoint vouches for every row up to its seq.

CREATE TABLE audit_checkpoints (
  workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  id            text NOT NULL,
  seq           bigint NOT NULL CHECK (seq > 0),
  hash          text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  key_id        text NOT NULL,
  signature     text NOT NULL,
  signed_at     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, seq)
);
CREATE INDEX audit_checkpoints_ws_created_idx ON audit_checkpoints (workspace_id, created_at DESC);
SELECT protect_tenant_table('audit_checkpoints');
REVOKE UPDATE, DELETE ON audit_checkpoints FROM causeloop_app;

-- Workspaces whose chain has grown by at least min_events since the last checkpoint, or has any unsigned
-- row older than max_age: the checkpointer's work list. It returns ids only, so the runtime role may call it.
CREATE OR REPLACE FUNCTION audit_checkpoints_due(min_events integer, max_age interval)
  RETURNS TABLE (workspace_id text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT w.id
    FROM workspaces w
    CROSS JOIN LATERAL (SELECT max(a.seq) AS seq FROM audit_log a WHERE a.workspace_id = w.id) last_row
    CROSS JOIN LATERAL (SELECT coalesce(max(c.seq), 0) AS seq FROM audit_checkpoints c WHERE c.workspace_id = w.id) last_cp
   WHERE last_row.seq IS NOT NULL AND last_row.seq > last_cp.seq
     AND (last_row.seq - last_cp.seq >= min_events
          OR EXISTS (SELECT 1 FROM audit_log a WHERE a.workspace_id = w.id AND a.seq = last_cp.seq + 1 AND a.created_at < now() - max_age))
$$;
REVOKE ALL ON FUNCTION audit_checkpoints_due(integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_checkpoints_due(integer, interval) TO causeloop_app;
