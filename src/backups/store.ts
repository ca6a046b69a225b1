// The backup directory: `<id>.clbk` (the encrypted snapshot) beside `<id>.manifest.json` (its signed
// manifest). A run writes both as `<name>.<pid>.partial` and renames the data file, then the manifest, into
// place: a backup exists once its manifest does. A killed run leaves only partial files (or a data file with
// no manifest), which the next run removes and `backup list` never shows.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { AppError } from "../errors.ts";
import { readManifest, type SignedManifest } from "./manifest.ts";

export const BACKUP_ID = /^bkp_[0-9a-hjkmnp-tv-z]{26}$/;

export const dataFileName = (id: string) => `${id}.clbk`;
export const manifestFileName = (id: string) => `${id}.manifest.json`;
export const partialName = (name: string) => `${name}.${process.pid}.partial`;

export function ensureBackupDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes what killed runs left: partial files of processes that are gone, and data files whose manifest
 * was never renamed into place. Returns the names removed.
 */
export function removeLeftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  const live = new Set<string>();
  const removed: string[] = [];
  for (const name of names) {
    const scratch = /^\.scratch-(\d+)-/.exec(name);
    if (scratch && !processAlive(Number(scratch[1]))) {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    }
    const partial = /^(bkp_[0-9a-z]{26})\..+\.(\d+)\.partial$/.exec(name);
    if (!partial) continue;
    if (processAlive(Number(partial[2]))) live.add(partial[1] as string);
    else {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  for (const name of names) {
    const data = /^(bkp_[0-9a-z]{26})\.clbk$/.exec(name);
    const id = data?.[1];
    if (!id || live.has(id) || names.includes(manifestFileName(id))) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

export interface BackupListing {
  id: string;
  started_at: string;
  finished_at: string;
  engine: string;
  causeloop_version: string;
  encrypted_bytes: number;
  sha256: string;
  kek_version: number;
  manifest: string;
  /** False when the data file beside the manifest is gone. */
  data_file_present: boolean;
}

/** Backups whose manifest was renamed into place, oldest first (ids are time-ordered). */
export function listBackups(dir: string): BackupListing[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^bkp_[0-9a-z]{26}\.manifest\.json$/.test(name))
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      let signed: SignedManifest;
      try {
        signed = readManifest(path);
      } catch {
        return [];
      }
      const m = signed.manifest;
      return [
        {
          id: m.id,
          started_at: m.started_at,
          finished_at: m.finished_at,
          engine: m.engine,
          causeloop_version: m.causeloop_version,
          encrypted_bytes: m.sizes.encrypted_bytes,
          sha256: m.sha256,
          kek_version: m.key.kek_version,
          manifest: path,
          data_file_present: existsSync(join(dir, basename(m.data_file))),
        },
      ];
    });
}

/** The manifest named by a backup id (in the backup directory) or by its path. */
export function locateManifest(dir: string, ref: string): string {
  if (BACKUP_ID.test(ref)) {
    const path = join(dir, manifestFileName(ref));
    if (!existsSync(path)) throw new AppError("not_found", `backup ${ref} not found in ${dir}`);
    return path;
  }
  const path = resolve(ref);
  if (!existsSync(path) || !statSync(path).isFile())
    throw new AppError("not_found", `${ref} is neither a backup id (bkp_...) nor a manifest file`);
  return path;
}

/** The data file a manifest describes: always beside it, whatever path the manifest names. */
export function dataFileOf(manifestPath: string, signed: SignedManifest): string {
  return join(dirname(manifestPath), basename(signed.manifest.data_file));
}
