-- The compliance log is evidence, so it is append-only for every role, the owner and superusers included, as
-- audit_log is (0022): the exceptions are granted by where a change comes from, not by a setting a session
-- could make. The purge of a whole tenant (offboard_client) deletes its rows; an erasure replaces the erased
-- person's actor_id with a pseudonym through compliance_log_pseudonymize() and changes nothing else.
-- And it records more: retention-setting changes and export downloads.

CREATE OR REPLACE FUNCTION compliance_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND audit_called_from('offboard_client') THEN
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND audit_called_from('compliance_log_pseudonymize')
     AND NEW.actor_id LIKE 'erased:%'
     AND (NEW.workspace_id, NEW.id, NEW.kind, NEW.subject_ref, NEW.details, NEW.created_at)
         IS NOT DISTINCT FROM (OLD.workspace_id, OLD.id, OLD.kind, OLD.subject_ref, OLD.details, OLD.created_at) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'compliance_log is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER compliance_log_append_only BEFORE UPDATE OR DELETE ON compliance_log
  FOR EACH ROW EXECUTE FUNCTION compliance_log_append_only();
CREATE TRIGGER compliance_log_no_truncate BEFORE TRUNCATE ON compliance_log
  FOR EACH STATEMENT EXECUTE FUNCTION compliance_log_append_only();

-- The erasure's one change to the log: the erased person's actor id becomes the request's pseudonym.
CREATE OR REPLACE FUNCTION compliance_log_pseudonymize(p_workspace_id text, p_actor_id text, p_pseudonym text)
  RETURNS integer
  LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF p_pseudonym NOT LIKE 'erased:%' THEN
    RAISE EXCEPTION 'a pseudonym starts with erased:' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE compliance_log SET actor_id = p_pseudonym WHERE workspace_id = p_workspace_id AND actor_id = p_actor_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
REVOKE ALL ON FUNCTION compliance_log_pseudonymize(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION compliance_log_pseudonymize(text, text, text) TO causeloop_app;

ALTER TABLE compliance_log DROP CONSTRAINT compliance_log_kind_check;
ALTER TABLE compliance_log ADD CONSTRAINT compliance_log_kind_check
  CHECK (kind IN ('retention.run', 'rtbf.transition', 'export.created', 'export.completed', 'export.expired',
                  'offboarding', 'export.revoked', 'rtbf.vacuum', 'retention.changed', 'export.downloaded'));
