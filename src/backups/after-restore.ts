// What every restore does once the backup's data is in its new place, on either engine, before the restored
// database is used: the steps that make it whole again (on PostgreSQL the database-level grants and default
// privileges a dump does not hold), then the restore recorded in its own operator log. Steps that must follow
// any restore (replaying a ledger of what was erased after the backup, say) belong here.
import { appendOperatorLog } from "../audit/operator-log.ts";
import type { Engine } from "../db/engine.ts";
import { setupAppRole } from "../db/system.ts";
import type { BackupManifest } from "./manifest.ts";

export interface AfterRestoreContext {
  actor: string;
  /** Where the backup was restored, as the operator log records it (data_dir, or database). */
  target: Record<string, string>;
  /** PostgreSQL: the runtime role was created by this restore (it gets a password, shown once). */
  newAppRole?: boolean;
}

export interface AfterRestoreResult {
  /** PostgreSQL, when the runtime role was new: its generated password (shown once, never stored). */
  generatedPassword?: string;
}

export async function afterRestore(
  engine: Engine,
  manifest: BackupManifest | undefined,
  context: AfterRestoreContext,
): Promise<AfterRestoreResult> {
  const result: AfterRestoreResult = {};
  if (engine.kind === "postgres") {
    // GRANT CONNECT on the new database, the owner's membership in the runtime role and the default
    // privileges for tables created later: what `causeloop roles setup` does, for the restored database.
    const role = await setupAppRole(engine, { actor: context.actor, rotate: context.newAppRole ?? false });
    if (role.generatedPassword) result.generatedPassword = role.generatedPassword;
  }
  await engine.transaction((tx) =>
    appendOperatorLog(tx, {
      action: "backup.restored",
      actor: context.actor,
      targetType: "backup",
      targetId: manifest?.id,
      after: { ...context.target, finished_at: manifest?.finished_at },
    }),
  );
  return result;
}
