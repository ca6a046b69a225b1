// `causeloop restore --to-database-url`: a PostgreSQL backup restored into the given database, which must be
// empty unless --force (then its objects are replaced by the backup's, in the same single transaction as the
// load: a failed restore leaves it as it was). The backup is checked (signature, sha256, key, decryption)
// before anything is written, the restored database against its manifest after, then afterRestore.
import { parseDatabaseUrl } from "../config.ts";
import { openPostgres } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { afterRestore } from "./after-restore.ts";
import { databaseIsEmpty, restoreLoader } from "./postgres.ts";
import { ensureBackupDir, removeLeftovers } from "./store.ts";
import { openBackup, type VerifyDeps, type VerifyReport } from "./verify.ts";

export interface DatabaseRestoreResult {
  id: string;
  /** host:port/database (never the URL: it may hold a password). */
  database: string;
  replaced: boolean;
  /** Roles the backup's grants name that the server lacked, created by the restore. */
  created_roles: string[];
  /** The runtime role's password when the restore created the role (shown once, never stored). */
  app_role_password: string | undefined;
  verification: VerifyReport;
  seconds: number;
}

export async function restoreToDatabase(
  ref: string,
  deps: VerifyDeps & { actor: string; binDir: string | undefined },
  options: { url: string; force: boolean },
): Promise<DatabaseRestoreResult> {
  const started = performance.now();
  const into = parseDatabaseUrl(options.url, "--to-database-url");
  const database = `${into.host}:${into.port}/${into.database}`;
  const probe = await openPostgres(into, 1, "causeloop-restore");
  try {
    if (!options.force && !(await databaseIsEmpty(probe)))
      throw new AppError(
        "conflict",
        `database ${database} is not empty: restore into a new, empty database, or add --force to replace its contents`,
      );
  } finally {
    await probe.close();
  }
  ensureBackupDir(deps.dir);
  removeLeftovers(deps.dir);
  const loader = restoreLoader(into, deps.binDir, { clean: options.force, label: `restored database ${database}` });
  const opened = await openBackup(ref, deps, loader);
  if (!opened.engine || !opened.report.ok) {
    await opened.engine?.close();
    const loaded = opened.engine
      ? `was restored into ${database} but does not match its manifest: do not use it`
      : "did not verify, nothing restored";
    throw new AppError(
      "bad_request",
      `backup ${opened.report.id ?? ref} ${loaded}: ${opened.report.problems.join("; ")}`,
    );
  }
  try {
    const after = await afterRestore(opened.engine, opened.signed?.manifest, {
      actor: deps.actor,
      target: { database },
      newAppRole: loader.createdRoles.length > 0,
    });
    return {
      id: opened.report.id ?? ref,
      database,
      replaced: options.force,
      created_roles: loader.createdRoles,
      app_role_password: after.generatedPassword,
      verification: opened.report,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } finally {
    await opened.engine.close();
  }
}
