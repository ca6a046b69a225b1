// What every restore does once the backup's data is in its new place, on either engine, before the restored
// database is used: the steps that make it whole again (on PostgreSQL the database-level grants and default
// privileges a dump does not hold), the restore recorded in its own operator log as pending, then the erasure
// ledger replayed (src/backups/replay.ts), which marks it replayed: `serve` refuses a restore left pending.
import { appendOperatorLog } from "../audit/operator-log.ts";
import type { Engine } from "../db/engine.ts";
import { setupAppRole } from "../db/system.ts";
import type { BackupManifest } from "./manifest.ts";
import { replayAfterRestore, RESTORE_PENDING_ACTION, type ReplayDeps, type ReplayResult } from "./replay.ts";

export interface AfterRestoreContext {
  actor: string;
  /** Where the backup was restored, as the operator log records it (data_dir, or database). */
  target: Record<string, string>;
  /** PostgreSQL: the runtime role was created by this restore (it gets a password, shown once). */
  newAppRole?: boolean;
  /** Where the erasure ledger is and what reads it. */
  replay: ReplayDeps;
}

export interface AfterRestoreResult {
  /** PostgreSQL, when the runtime role was new: its generated password (shown once, never stored). */
  generatedPassword?: string;
  /** The erasure ledger's records newer than the backup, applied. */
  replay: ReplayResult;
}

export async function afterRestore(
  engine: Engine,
  manifest: BackupManifest | undefined,
  context: AfterRestoreContext,
): Promise<AfterRestoreResult> {
  let generatedPassword: string | undefined;
  if (engine.kind === "postgres") {
    // GRANT CONNECT on the new database, the owner's membership in the runtime role and the default
    // privileges for tables created later: what `causeloop roles setup` does, for the restored database.
    const role = await setupAppRole(engine, { actor: context.actor, rotate: context.newAppRole ?? false });
    generatedPassword = role.generatedPassword;
  }
  const since = manifest?.started_at ?? new Date(0).toISOString();
  // Marked pending first: a copy that somehow skipped the replay is one `serve` refuses.
  await engine.transaction((tx) =>
    appendOperatorLog(tx, {
      action: RESTORE_PENDING_ACTION,
      actor: context.actor,
      targetType: "backup",
      targetId: manifest?.id,
      after: { ...context.target, finished_at: manifest?.finished_at, since, replay: "pending" },
    }),
  );
  const replay = await replayAfterRestore(engine, since, manifest?.id ?? null, context.replay);
  return { ...(generatedPassword ? { generatedPassword } : {}), replay };
}
