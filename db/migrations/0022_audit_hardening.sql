-- The audit trail against its own database owner. Two doors made tampering easy: any session could set
-- causeloop.tenant_purge (or causeloop.audit_purge) and delete audit rows, and audit_checkpoints had no
-- append-only guard at all. Now the exemptions are granted by WHERE the delete comes from, not by a setting:
-- only a delete executed inside offboard_client() (the purge of a whole tenant) or audit_log_purge_expired()
-- (retention of checkpoint-covered rows past the 365-day floor) passes. What an owner with full control can
-- still do (disable triggers, rewrite history with recomputed hashes) is made detectable instead: signed
-- checkpoints, the cadence check and the anchors kept outside the database (src/audit/anchors.ts).

-- True when the current statement runs inside the named function (PL/pgSQL call stack). A session cannot fake
-- this by setting anything; it would have to replace the function itself, which migrations and doctor see.
CREATE OR REPLACE FUNCTION audit_called_from(p_function text) RETURNS boolean
  LANGUAGE plpgsql
AS $$
DECLARE
  stack text;
BEGIN
  GET DIAGNOSTICS stack = PG_CONTEXT;
  RETURN position(format('function %s(', p_function) IN stack) > 0;
END $$;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- Retention: past the 365-day floor AND covered by a signed checkpoint, checked here row by row too.
    IF audit_called_from('audit_log_purge_expired') AND OLD.created_at < now() - interval '365 days'
       AND OLD.seq <= (SELECT coalesce(max(c.seq), 0) FROM audit_checkpoints c WHERE c.workspace_id = OLD.workspace_id) THEN
      RETURN OLD;
    END IF;
    IF audit_called_from('offboard_client') THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION audit_checkpoints_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND audit_called_from('offboard_client') THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_checkpoints is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();

-- The operator log's checkpoints refused UPDATE and DELETE already (0014); TRUNCATE too now.
CREATE TRIGGER operator_log_checkpoints_no_truncate BEFORE TRUNCATE ON operator_log_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION operator_log_append_only();
