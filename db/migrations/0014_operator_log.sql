-- The operator log: what operators did that belongs to no single workspace (migrations applied, the app
-- role set up or its password rotated, the master key rotated, scheduled jobs run by hand, tenants
-- offboarded, purged or restored). A tenant's own audit trail dies with the tenant when it is purged; this
-- log outlives it.
--
-- It is a hash chain exactly like a workspace's audit trail: the same columns and the same canonical
-- encoding (audit_canonical, v1), with the constant 'operator' in the workspace field. Rows are appended only
-- by operator_log_append() (serialized by an advisory lock), in the same transaction as the change they
-- record; UPDATE, DELETE and TRUNCATE are rejected for every role. Signed checkpoints (Ed25519, the audit
-- signing key, payload checkpoint v1 with workspace 'operator') anchor it against a rewrite with recomputed
-- hashes. `causeloop audit verify` checks it along with every workspace.
--
-- Global tables, not readable by the runtime role (no grants; RLS enabled with no policy as a second
-- wall). RLS is not forced, so an owner role that is neither superuser nor BYPASSRLS can still migrate.
-- The server signs checkpoints through two narrow SECURITY DEFINER functions.

CREATE TABLE operator_log (
  id           text PRIMARY KEY,
  seq          bigint NOT NULL UNIQUE CHECK (seq > 0),
  action       text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
  actor_id     text,
  actor_type   text NOT NULL DEFAULT 'operator' CHECK (actor_type IN ('operator', 'service')),
  target_type  text,
  target_id    text,
  before       jsonb,
  after        jsonb,
  trace_id     text,
  ip           inet,
  user_agent   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  prev_hash    text CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash         text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX operator_log_created_idx ON operator_log (created_at DESC);
CREATE INDEX operator_log_action_idx ON operator_log (action, created_at DESC);
ALTER TABLE operator_log ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON operator_log FROM PUBLIC;
REVOKE ALL ON operator_log FROM causeloop_app;

CREATE OR REPLACE FUNCTION operator_log_append_only() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'operator_log is append-only: % rejected', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER operator_log_append_only BEFORE UPDATE OR DELETE ON operator_log
  FOR EACH ROW EXECUTE FUNCTION operator_log_append_only();
CREATE TRIGGER operator_log_no_truncate BEFORE TRUNCATE ON operator_log
  FOR EACH STATEMENT EXECUTE FUNCTION operator_log_append_only();

CREATE TABLE operator_log_checkpoints (
  seq         bigint PRIMARY KEY CHECK (seq > 0),
  hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  key_id      text NOT NULL,
  signature   text NOT NULL,
  signed_at   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE operator_log_checkpoints ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON operator_log_checkpoints FROM PUBLIC;
REVOKE ALL ON operator_log_checkpoints FROM causeloop_app;
CREATE TRIGGER operator_log_checkpoints_append_only BEFORE UPDATE OR DELETE ON operator_log_checkpoints
  FOR EACH ROW EXECUTE FUNCTION operator_log_append_only();

CREATE OR REPLACE FUNCTION operator_log_append(
  p_action text, p_actor_id text, p_target_type text, p_target_id text,
  p_before jsonb DEFAULT NULL, p_after jsonb DEFAULT NULL, p_actor_type text DEFAULT 'operator')
  RETURNS text
  LANGUAGE plpgsql
AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  rec audit_log;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:operator', 0));
  SELECT seq, hash INTO last_seq, last_hash FROM operator_log ORDER BY seq DESC LIMIT 1;
  rec.workspace_id := 'operator';
  rec.id := new_id('opl');
  rec.seq := coalesce(last_seq, 0) + 1;
  rec.action := p_action;
  rec.actor_id := p_actor_id;
  rec.actor_type := p_actor_type;
  rec.target_type := p_target_type;
  rec.target_id := p_target_id;
  rec.before := p_before;
  rec.after := p_after;
  rec.created_at := date_trunc('microseconds', clock_timestamp());
  rec.prev_hash := last_hash;
  rec.hash := encode(sha256(convert_to(coalesce(last_hash, '') || audit_canonical(rec), 'UTF8')), 'hex');
  INSERT INTO operator_log (id, seq, action, actor_id, actor_type, target_type, target_id, before, after,
                            trace_id, ip, user_agent, created_at, prev_hash, hash)
  VALUES (rec.id, rec.seq, rec.action, rec.actor_id, rec.actor_type, rec.target_type, rec.target_id, rec.before,
          rec.after, rec.trace_id, rec.ip, rec.user_agent, rec.created_at, rec.prev_hash, rec.hash);
  RETURN rec.id;
END $$;
REVOKE ALL ON FUNCTION operator_log_append(text, text, text, text, jsonb, jsonb, text) FROM PUBLIC;

-- Offboarding, purge and restore are recorded whichever way they run (CLI, console or psql).
CREATE OR REPLACE FUNCTION operator_log_offboarding() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.status = 'completed' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'completed') THEN
    PERFORM operator_log_append(
      CASE NEW.mode WHEN 'soft' THEN 'tenant.offboarded' WHEN 'purge' THEN 'tenant.purged' ELSE 'tenant.restored' END,
      NEW.performed_by, 'organization', NEW.organization_id, NULL,
      jsonb_build_object('slug', NEW.slug, 'workspace_ids', to_jsonb(NEW.workspace_ids), 'row_counts', NEW.row_counts,
                         'offboarding_record', NEW.id));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER offboarding_records_operator_log AFTER INSERT OR UPDATE ON offboarding_records
  FOR EACH ROW EXECUTE FUNCTION operator_log_offboarding();

-- For the server's checkpointer, which runs as the runtime role: the head to sign (or nothing when a
-- checkpoint already covers it), and the insert of a signature over exactly that head.
CREATE OR REPLACE FUNCTION operator_log_unsigned_head() RETURNS TABLE (seq bigint, hash text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT l.seq, l.hash FROM operator_log l
   WHERE l.seq > (SELECT coalesce(max(c.seq), 0) FROM operator_log_checkpoints c)
   ORDER BY l.seq DESC LIMIT 1
$$;
CREATE OR REPLACE FUNCTION operator_log_add_checkpoint(p_seq bigint, p_hash text, p_key_id text, p_signature text, p_signed_at text)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:operator', 0));
  IF NOT EXISTS (SELECT 1 FROM operator_log WHERE seq = p_seq AND hash = p_hash) THEN
    RAISE EXCEPTION 'operator log row % with that hash does not exist', p_seq USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM operator_log_checkpoints WHERE seq >= p_seq) THEN
    RETURN false;
  END IF;
  INSERT INTO operator_log_checkpoints (seq, hash, key_id, signature, signed_at) VALUES (p_seq, p_hash, p_key_id, p_signature, p_signed_at);
  RETURN true;
END $$;
REVOKE ALL ON FUNCTION operator_log_unsigned_head() FROM PUBLIC;
REVOKE ALL ON FUNCTION operator_log_add_checkpoint(bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION operator_log_unsigned_head() TO causeloop_app;
GRANT EXECUTE ON FUNCTION operator_log_add_checkpoint(bigint, text, text, text, text) TO causeloop_app;

-- The history from before this log existed: the migrations already in the ledger, oldest first.
DO $$
DECLARE
  m record;
BEGIN
  FOR m IN SELECT * FROM schema_migrations ORDER BY applied_at, name LOOP
    PERFORM operator_log_append('migration.applied', m.applied_by, 'migration', m.name, NULL,
                                jsonb_build_object('sha256', m.sha256, 'duration_ms', m.duration_ms,
                                                   'applied_at', audit_time(m.applied_at), 'recorded_later', true));
  END LOOP;
END $$;
