// The database side of a scrape: one statement (metrics_readout(), migration 0031, SECURITY DEFINER) reads
// every workspace's job queue and audit chain and the scheduler's history. Called at scrape time only.
import type { Queryable } from "../db/engine.ts";

export interface JobQueueReadout {
  kind: string;
  queued: number;
  running: number;
  /** How long the oldest due queued job has waited past its run time (0 when none is due). */
  oldest_due_seconds: number;
}

export interface SchedulerReadout {
  job: string;
  /** Unix seconds of the last successful / failed run's end; null when there has been none. */
  last_success: number | null;
  last_failure: number | null;
}

export interface AuditChainReadout {
  /** A workspace id, or `operator` for the operator log. */
  chain: string;
  unsigned: number;
  oldest_unsigned_seconds: number;
}

/** The delivery outbox of every workspace: still to send, dead-lettered, waiting longest, circuits open. */
export interface DeliveryReadout {
  pending: number;
  dead: number;
  oldest_due_seconds: number;
  circuits_open: number;
}

/** Unix seconds of the last backup taken and the last one verified by restoring it; null until one is. */
export interface BackupReadout {
  last_created: number | null;
  last_verified: number | null;
  /** Since migration 0036: the first backup, the last failed attempt, the latest drill and its result, the first workspace. */
  first_created?: number | null;
  last_failed?: number | null;
  last_drill?: number | null;
  last_drill_ok?: boolean | null;
  first_workspace?: number | null;
  /** The id of the newest backup a drill passed on (retention keeps it). */
  last_verified_id?: string | null;
}

export interface DatabaseReadout {
  jobs: JobQueueReadout[];
  scheduler: SchedulerReadout[];
  audit: AuditChainReadout[];
  deliveries?: DeliveryReadout;
  backups?: BackupReadout;
}

export async function databaseReadout(db: Queryable): Promise<DatabaseReadout> {
  const [row] = await db.query<{ readout: DatabaseReadout | string; backups: BackupReadout | string }>(
    "select metrics_readout() as readout, backup_readout() as backups",
  );
  const parse = <T>(value: T | string | undefined): T | undefined =>
    typeof value === "string" ? (JSON.parse(value) as T) : value;
  const readout = parse(row?.readout);
  if (!readout) return { jobs: [], scheduler: [], audit: [] };
  return { ...readout, backups: parse(row?.backups) };
}
