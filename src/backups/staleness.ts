// Staleness is an alarm: the newest backup and the newest successful restore drill, their age against the
// configured thresholds, read through backup_readout() (migration 0036, SECURITY DEFINER: the runtime role,
// which serves /readyz and runs doctor, reads these timestamps and nothing else of the operator log).
//
// A fresh installation is not stale: "no backup yet" fails only once the first workspace is older than
// CAUSELOOP_BACKUP_MAX_AGE_HOURS (before any workspace there is nothing to lose), and "no drill yet" once
// the first backup (or, without one, the first workspace) is older than CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS.
// With a schedule `off`, having none is fine, but one that exists still ages. The latest drill having failed
// is an alarm too, until a later one passes.
import type { Config } from "../config.ts";
import type { Engine, Queryable } from "../db/engine.ts";
import type { BackupReadout } from "../observability/readout.ts";

export type StalenessSettings = Pick<
  Config,
  "backupCron" | "backupDrillCron" | "backupMaxAgeHours" | "backupDrillMaxAgeDays"
>;

export interface BackupStaleness {
  last_backup_at: string | null;
  last_backup_age_hours: number | null;
  /** The latest drill (scheduled, or `backup verify`), whatever its result. */
  last_drill_at: string | null;
  last_drill_ok: boolean | null;
  /** The latest drill that passed. */
  last_verified_at: string | null;
  last_verified_age_days: number | null;
  /** The latest failed backup attempt (the operator log says why). */
  last_failure_at: string | null;
  stale: boolean;
  /** Why it is stale (empty when it is not). */
  reasons: string[];
  /** One line for a passing check: what is fine and why. */
  summary: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (seconds: number | null | undefined) => (seconds ? new Date(seconds * 1000).toISOString() : null);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** The readout, or undefined before migration 0036 (and 0034) is applied. */
export async function readBackupReadout(db: Queryable): Promise<BackupReadout | undefined> {
  const [exists] = await db.query<{ ok: boolean }>("select to_regprocedure('backup_readout()') is not null as ok");
  if (!exists?.ok) return undefined;
  const [row] = await db.query<{ r: BackupReadout | string }>("select backup_readout() as r");
  return typeof row?.r === "string" ? (JSON.parse(row.r) as BackupReadout) : row?.r;
}

/** The rule itself, on a readout and a clock (pure: tested with a fixed `now`). */
export function assessStaleness(read: BackupReadout, settings: StalenessSettings, now: Date): BackupStaleness {
  const at = now.getTime();
  const reasons: string[] = [];
  const notes: string[] = [];
  const maxAge = settings.backupMaxAgeHours;
  const drillMax = settings.backupDrillMaxAgeDays;
  const created = read.last_created ? read.last_created * 1000 : undefined;
  const workspace = read.first_workspace ? read.first_workspace * 1000 : undefined;
  const ageHours = created === undefined ? null : round1((at - created) / HOUR);

  if (ageHours !== null) {
    if (ageHours > maxAge) reasons.push(`the newest backup is ${ageHours} h old (limit ${maxAge} h)`);
    else notes.push(`backup ${ageHours} h old`);
  } else if (settings.backupCron === null) notes.push("no backup (scheduled backups are off)");
  else if (workspace === undefined) notes.push("no backup yet (no workspace to protect)");
  else if (at - workspace > maxAge * HOUR)
    reasons.push(`no backup yet, ${round1((at - workspace) / HOUR)} h after the first workspace (limit ${maxAge} h)`);
  else notes.push(`no backup yet (due by ${new Date(workspace + maxAge * HOUR).toISOString()})`);

  const verified = read.last_verified ? read.last_verified * 1000 : undefined;
  const verifiedDays = verified === undefined ? null : round1((at - verified) / DAY);
  if (read.last_drill && read.last_drill_ok === false)
    reasons.push(`the latest restore drill FAILED (${iso(read.last_drill)}): see backup.verified in the operator log`);
  const drillAnchor = read.first_created ? read.first_created * 1000 : workspace;
  if (verifiedDays !== null) {
    if (verifiedDays > drillMax)
      reasons.push(`the newest passing restore drill is ${verifiedDays} days old (limit ${drillMax} days)`);
    else notes.push(`drill ${verifiedDays} days old`);
  } else if (settings.backupDrillCron === null) notes.push("no drill (scheduled drills are off)");
  else if (drillAnchor === undefined) notes.push("no drill yet");
  else if (at - drillAnchor > drillMax * DAY)
    reasons.push(
      `no restore drill has passed yet, ${round1((at - drillAnchor) / DAY)} days on (limit ${drillMax} days)`,
    );
  else notes.push(`no drill yet (due by ${new Date(drillAnchor + drillMax * DAY).toISOString()})`);

  return {
    last_backup_at: iso(read.last_created),
    last_backup_age_hours: ageHours,
    last_drill_at: iso(read.last_drill),
    last_drill_ok: read.last_drill ? read.last_drill_ok !== false : null,
    last_verified_at: iso(read.last_verified),
    last_verified_age_days: verifiedDays,
    last_failure_at: iso(read.last_failed),
    stale: reasons.length > 0,
    reasons,
    summary: notes.join(", "),
  };
}

/** The staleness now, or undefined when the database predates the readout. */
export async function backupStaleness(
  db: Queryable,
  settings: StalenessSettings,
  now = new Date(),
): Promise<BackupStaleness | undefined> {
  const read = await readBackupReadout(db);
  return read ? assessStaleness(read, settings, now) : undefined;
}

/** doctor's check "backups": fails naming each reason. */
export async function backupsCheck(
  db: Queryable,
  settings: StalenessSettings,
  now = new Date(),
): Promise<{ name: string; ok: boolean; detail: string }> {
  const name = "backups";
  const s = await backupStaleness(db, settings, now);
  if (!s) return { name, ok: true, detail: "not available before migration 0036" };
  const failed =
    s.last_failure_at && (!s.last_backup_at || s.last_failure_at > s.last_backup_at)
      ? ` (the last attempt failed at ${s.last_failure_at}: see backup.failed in the operator log)`
      : "";
  if (s.stale) return { name, ok: false, detail: `STALE: ${s.reasons.join("; ")}${failed}` };
  return { name, ok: true, detail: `${s.summary}${failed}` };
}

/** What /readyz reports, on the engine's probe connection within a deadline; undefined when not readable in time. */
export function readinessBackups(
  engine: Pick<Engine, "probe">,
  settings: StalenessSettings,
  timeoutMs: number,
): () => Promise<
  | { stale: boolean; last_backup_at: string | null; last_drill_at: string | null; last_drill_ok: boolean | null }
  | undefined
> {
  return async () => {
    try {
      const s = await engine.probe((db) => backupStaleness(db, settings), timeoutMs);
      return (
        s && {
          stale: s.stale,
          last_backup_at: s.last_backup_at,
          last_drill_at: s.last_drill_at,
          last_drill_ok: s.last_drill_ok,
        }
      );
    } catch {
      return undefined;
    }
  };
}
