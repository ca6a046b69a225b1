// `causeloop restore --to-database-url`: a PostgreSQL backup restored into the given database, which must be
// empty unless --force (then its objects are replaced by the backup's, in the same single transaction as the
// load: a failed restore leaves it as it was). The backup is checked (signature, sha256, key, decryption)
// before anything is written, the restored database against its manifest after, then afterRestore.
import { existsSync, rmSync } from "node:fs";
import { parseDatabaseUrl } from "../config.ts";
import { openPostgres } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { afterRestore } from "./after-restore.ts";
import type { SignedManifest } from "./manifest.ts";
import type { ReplayDeps, ReplayResult } from "./replay.ts";
import { databaseIsEmpty, restoreLoader } from "./postgres.ts";
import { copyAnchorsUpTo } from "./restore.ts";
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
  /** The erasure ledger's records newer than the backup, applied before the database was handed over. */
  replay: ReplayResult;
  /**
   * The installation's audit anchor file with only the checkpoints the backup holds, written beside it: the
   * anchor file to use with the restored database (one signed after the backup reads as a deleted tail).
   */
  anchors: { file: string; kept: number; dropped: number } | undefined;
  verification: VerifyReport;
  seconds: number;
}

/** `<anchor file>.<backup id>.restored`: the anchors the backup holds, written afresh. */
function restoredAnchors(anchorFile: string, signed: SignedManifest): { file: string; kept: number; dropped: number } {
  const file = `${anchorFile}.${signed.manifest.id}.restored`;
  rmSync(file, { force: true });
  return { file, ...copyAnchorsUpTo(anchorFile, file, signed) };
}

export async function restoreToDatabase(
  ref: string,
  deps: VerifyDeps & {
    actor: string;
    binDir: string | undefined;
    anchorFile?: string;
    /** The subject-ref key, for erasures to replay. */
    hmacKey: ReplayDeps["hmacKey"];
  },
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
      replay: { dir: deps.dir, keys: deps.keys, kek: deps.kek, hmacKey: deps.hmacKey, actor: deps.actor },
    });
    const anchors =
      deps.anchorFile && existsSync(deps.anchorFile) && opened.signed
        ? restoredAnchors(deps.anchorFile, opened.signed)
        : undefined;
    return {
      id: opened.report.id ?? ref,
      database,
      anchors,
      replaced: options.force,
      created_roles: loader.createdRoles,
      app_role_password: after.generatedPassword,
      replay: after.replay,
      verification: opened.report,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } finally {
    await opened.engine.close();
  }
}
