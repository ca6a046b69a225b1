// The scheduled backup jobs `serve` runs (src/jobs/registry.ts): `backup.create` (a backup, then retention),
// `backup.drill` (the newest backup verified by restoring it into a scratch database) and `backup.check`
// (the staleness alarm: one `backup_stale` operator alert per stale episode, resolved once fresh again).
// Each result is in the operator log: backup.created / backup.failed, backup.pruned, backup.verified.
//
// Catch-up: the scheduler runs a slot missed while no server ran at the next start. For a backup that would
// be every first start of a new installation (and of every test's serve), so a missed backup slot is caught
// up only when a workspace already existed at that slot and no backup was taken since; a missed drill only
// when a backup already existed at that slot and no drill ran since. Anything else waits for the next slot,
// and the staleness alarm says so if that is too late.
import { logOperatorAction } from "../audit/operator-log.ts";
import type { Signer } from "../audit/signing.ts";
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import type { JobDefinition } from "../jobs/scheduler.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { raiseOperatorAlert, resolveOperatorAlert } from "../security/alerts.ts";
import { createBackup } from "./create.ts";
import { postgresTarget } from "./postgres.ts";
import { copyOffsite, offsiteFor } from "./offsite.ts";
import { pruneBackups } from "./retention.ts";
import { assessStaleness, readBackupReadout, type StalenessSettings } from "./staleness.ts";
import { listBackups } from "./store.ts";
import { verifyBackup, type VerifyDeps, type VerifyReport } from "./verify.ts";

export const SCHEDULER_ACTOR = "system:scheduler";
export const BACKUP_STALE_ALERT = "backup_stale";

/** What a backup and a drill need besides the scheduler's connection: keys loaded on first use, and an owner. */
export interface BackupKeys {
  kek: () => Promise<KekProvider>;
  signer: () => Promise<Signer>;
  /**
   * An owner-level connection for the work itself (a backup reads every workspace; the runtime role writes no
   * operator log): PGlite's one engine, or DATABASE_OWNER_URL opened for the run. None: the job fails saying so.
   */
  owner: (<T>(fn: (owner: Engine) => Promise<T>) => Promise<T>) | undefined;
}

const NO_OWNER =
  "scheduled backups on PostgreSQL need DATABASE_OWNER_URL: the runtime role can neither read every workspace nor write the operator log";

function ownerOf(keys: BackupKeys) {
  if (!keys.owner) throw new AppError("config_invalid", NO_OWNER);
  return keys.owner;
}

export type BackupJobSettings = StalenessSettings &
  Pick<
    Config,
    "backupDir" | "backupKeepDays" | "backupKeepCount" | "backupS3" | "engine" | "databaseOwnerUrl" | "pgBinDir"
  >;

/** The operator log's record of a verification (a drill, or `backup verify`). */
export function recordVerification(engine: Engine, report: VerifyReport, ref: string, actor: string) {
  return logOperatorAction(engine, {
    action: "backup.verified",
    actor,
    targetType: "backup",
    targetId: report.id ?? ref,
    after: { ok: report.ok, problems: report.problems, seconds: report.seconds },
  });
}

/** Verifies a backup on a scratch copy and records the result. */
export async function verifyAndRecord(
  engine: Engine,
  ref: string,
  deps: VerifyDeps,
  actor: string,
): Promise<VerifyReport> {
  const report = await verifyBackup(ref, deps);
  await recordVerification(engine, report, ref, actor);
  return report;
}

/** Raises the backup_stale alert while stale (one alert per episode, its occurrences counted), resolves it after. */
export async function checkStaleness(
  engine: Engine,
  settings: StalenessSettings,
  now = new Date(),
): Promise<Record<string, number>> {
  const read = await readBackupReadout(engine);
  if (!read) return { stale: 0 };
  const s = assessStaleness(read, settings, now);
  if (!s.stale) return { stale: 0, resolved: await resolveOperatorAlert(engine, BACKUP_STALE_ALERT) };
  await raiseOperatorAlert(engine, {
    rule: "backup_stale",
    summary: `backups are stale: ${s.reasons.join("; ")}`,
    details: { ...s },
    dedupKey: BACKUP_STALE_ALERT,
  });
  return { stale: 1 };
}

/**
 * A backup, then retention; a failure createBackup did not record itself (a refusal, missing keys) is
 * recorded here. `engine` is the scheduler's connection (the staleness readout and alert), the rest runs as owner.
 */
export async function scheduledBackup(engine: Engine, settings: BackupJobSettings, keys: BackupKeys) {
  const asOwner = ownerOf(keys);
  const before = await readBackupReadout(engine);
  let result: Awaited<ReturnType<typeof createBackup>>;
  try {
    const [kek, signer] = [await keys.kek(), await keys.signer()];
    result = await asOwner((owner) =>
      createBackup(owner, {
        dir: settings.backupDir,
        kek,
        signer,
        actor: SCHEDULER_ACTOR,
        postgres: postgresTarget(settings),
      }),
    );
    // Off the machine too (CAUSELOOP_BACKUP_S3_BUCKET): a failed copy fails the run (the backup stays local).
    await copyOffsite(settings, settings.backupDir, result.id);
  } catch (error) {
    // The run fails with the backup's own error, whatever happens while recording it.
    const after = await readBackupReadout(engine).catch(() => undefined);
    if (after?.last_failed === before?.last_failed)
      await asOwner((owner) =>
        logOperatorAction(owner, {
          action: "backup.failed",
          actor: SCHEDULER_ACTOR,
          targetType: "backup",
          after: { reason: (error as Error).message.split("\n")[0] },
        }),
      ).catch(() => {});
    await checkStaleness(engine, settings).catch(() => {});
    throw error;
  }
  // Pruned only after a backup succeeded: while backups fail, the old ones all stay.
  const protect = [(await readBackupReadout(engine))?.last_verified_id];
  const pruned = await asOwner((owner) =>
    pruneBackups(owner, settings.backupDir, {
      keepDays: settings.backupKeepDays,
      keepCount: settings.backupKeepCount,
      now: new Date(),
      protect,
      actor: SCHEDULER_ACTOR,
      offsite: offsiteFor(settings),
    }),
  );
  await checkStaleness(engine, settings);
  return {
    encrypted_bytes: result.encrypted_bytes,
    seconds: result.seconds,
    pruned: pruned.pruned.length,
    kept: pruned.kept.length,
  };
}

/** The restore drill: the newest backup verified on a scratch copy, recorded as backup.verified. */
export async function scheduledDrill(engine: Engine, settings: BackupJobSettings, keys: BackupKeys) {
  const asOwner = ownerOf(keys);
  const newest = listBackups(settings.backupDir).at(-1);
  // Nothing verified, nothing recorded: a missing backup is the backup staleness alarm's to report.
  if (!newest) throw new AppError("not_found", `no backup in ${settings.backupDir} to drill on`);
  const [kek, signer] = [await keys.kek(), await keys.signer()];
  const deps = {
    dir: settings.backupDir,
    kek,
    keys: [signer.publicJwk],
    keySource: "the installation's audit key",
    postgres: postgresTarget(settings),
  };
  const report = await asOwner((owner) => verifyAndRecord(owner, newest.id, deps, SCHEDULER_ACTOR));
  await checkStaleness(engine, settings);
  if (!report.ok) throw new AppError("internal", `restore drill of ${newest.id} failed: ${report.problems.join("; ")}`);
  return { verified: 1, seconds: report.seconds };
}

/**
 * The catch-up rule (see the top of this file): a missed slot runs when `existed` (what there was to work on)
 * is older than the slot and `done` (the work itself) has not happened since.
 */
function catchUpWhen(
  engine: Engine,
  existed: "first_workspace" | "first_created",
  done: "last_created" | "last_drill",
) {
  return async (missed: Date) => {
    const read = await readBackupReadout(engine);
    const slot = missed.getTime() / 1000;
    return Boolean(read?.[existed] && Number(read[existed]) < slot && (read[done] ?? 0) < slot);
  };
}

/** The backup jobs for `serve`'s scheduler (a schedule set to `off` has no job). */
export function backupJobs(engine: Engine, settings: BackupJobSettings, keys: BackupKeys): JobDefinition[] {
  const scheduled: (Omit<JobDefinition, "cron"> & { cron: string | null })[] = [
    {
      name: "backup.create",
      cron: settings.backupCron,
      description: "Back up the database, then prune backups past retention (CAUSELOOP_BACKUP_KEEP_DAYS/_COUNT)",
      catchUp: catchUpWhen(engine, "first_workspace", "last_created"),
      run: () => scheduledBackup(engine, settings, keys),
    },
    {
      name: "backup.drill",
      cron: settings.backupDrillCron,
      description: "Restore drill: verify the newest backup by restoring it into a scratch database",
      catchUp: catchUpWhen(engine, "first_created", "last_drill"),
      run: () => scheduledDrill(engine, settings, keys),
    },
    {
      name: "backup.check",
      cron: "29 * * * *",
      description: "Staleness alarm: raise the backup_stale alert when the newest backup or drill is too old",
      run: () => checkStaleness(engine, settings),
    },
  ];
  return scheduled.flatMap((job) => (job.cron ? [{ ...job, cron: job.cron }] : []));
}
