-- A restore marks the restored database's operator log (`backup.restored` with `after.replay = 'pending'`)
-- before it replays the erasure ledger, and `erasure_ledger.replayed` after. `serve` asks this at start and
-- refuses a database whose newest restore was never followed by its replay (a person erased after the backup
-- would come back). The runtime role cannot read the operator log: this answers only the backup id and time.
CREATE OR REPLACE FUNCTION restore_replay_pending() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
  SELECT jsonb_build_object('backup_id', r.target_id, 'since', r.after ->> 'since')
    FROM operator_log r
   WHERE r.action = 'backup.restored' AND r.after ->> 'replay' = 'pending'
     AND NOT EXISTS (SELECT 1 FROM operator_log d WHERE d.action = 'erasure_ledger.replayed' AND d.seq > r.seq)
   ORDER BY r.seq DESC
   LIMIT 1
$$;
REVOKE ALL ON FUNCTION restore_replay_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION restore_replay_pending() TO causeloop_app;
