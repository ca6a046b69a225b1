// The off-machine copy of the backups: an S3-compatible bucket (CAUSELOOP_BACKUP_S3_BUCKET; Bun's built-in S3
// client, like the export archive store). The backup directory stays the working copy; each completed backup
// is uploaded data file first and signed manifest last (a manifest in the bucket means its backup is whole),
// a data key re-wrapped by a rotation follows, and the erasure ledger is uploaded whole after each append and
// with each backup. When the machine is lost, `backup list` shows what the bucket holds, and `backup verify`
// and `restore` of an id the directory lacks fetch it (and the ledger) first.
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { s3Client, type S3Settings } from "../governance/storage.ts";
import { LEDGER_FILE } from "./ledger.ts";
import { rewrappedKeyFile } from "./rekey.ts";
import { BACKUP_ID, dataFileName, ensureBackupDir, manifestFileName } from "./store.ts";

export interface Offsite {
  /** `s3://bucket/prefix`, for messages. */
  readonly where: string;
  /** Uploads a completed backup (data file, re-wrapped key if any, then the manifest) and the ledger. */
  upload(dir: string, id: string): Promise<void>;
  /** Uploads one backup's re-wrapped data key (after a master-key rotation). */
  uploadKey(dir: string, id: string): Promise<void>;
  /** The ids whose manifest is in the bucket, oldest first. */
  list(): Promise<string[]>;
  /** Fetches a backup the directory lacks; false when the bucket does not have it either. */
  fetch(dir: string, id: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  putLedger(dir: string): Promise<void>;
  /**
   * Brings the bucket's ledger into the directory when it is ahead of the local one (a lost machine, or a
   * restore on another one). A local ledger that is not a prefix of the bucket's stays: the replay checks it.
   */
  pullLedger(dir: string): Promise<"pulled" | "local" | "none">;
}

export function s3Offsite(settings: S3Settings): Offsite {
  const client = s3Client(settings);
  const key = (name: string) => `${settings.prefix}${name}`;
  const where = `s3://${settings.bucket}/${settings.prefix}`;
  const fail = (what: string, error: unknown): never => {
    // The S3 client's messages name the bucket and key, never the credentials.
    throw new AppError(
      "not_ready",
      `${what} (${where}): ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
    );
  };
  const put = async (dir: string, name: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) return;
    await client.write(key(name), Bun.file(path)).catch((error) => fail(`could not upload ${name}`, error));
  };
  const get = async (dir: string, name: string): Promise<boolean> => {
    const remote = client.file(key(name));
    if (!(await remote.exists().catch((error) => fail(`could not read ${name}`, error)))) return false;
    const partial = join(dir, `${name}.${process.pid}.download`);
    try {
      await Bun.write(partial, remote);
      renameSync(partial, join(dir, name));
    } catch (error) {
      rmSync(partial, { force: true });
      fail(`could not download ${name}`, error);
    }
    return true;
  };
  const offsite: Offsite = {
    where,
    async upload(dir, id) {
      await put(dir, dataFileName(id));
      await put(dir, rewrappedKeyFile(id));
      await put(dir, manifestFileName(id));
      await offsite.putLedger(dir);
    },
    uploadKey: (dir, id) => put(dir, rewrappedKeyFile(id)),
    async list() {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await client
          .list({ prefix: settings.prefix, maxKeys: 1000, ...(token ? { continuationToken: token } : {}) })
          .catch((error) => fail("could not list the bucket", error));
        for (const object of page.contents ?? []) {
          const name = object.key.slice(settings.prefix.length);
          const match = /^(bkp_[0-9a-z]{26})\.manifest\.json$/.exec(name);
          if (match?.[1]) ids.push(match[1]);
        }
        token = page.isTruncated ? page.nextContinuationToken : undefined;
      } while (token);
      return ids.sort();
    },
    async fetch(dir, id) {
      if (!BACKUP_ID.test(id)) return false;
      ensureBackupDir(dir);
      if (
        !(await client
          .file(key(manifestFileName(id)))
          .exists()
          .catch((e) => fail("could not read", e)))
      )
        return false;
      if (!(await get(dir, dataFileName(id)))) return false;
      await get(dir, rewrappedKeyFile(id));
      return get(dir, manifestFileName(id)); // last: a manifest in the directory means its backup is whole
    },
    async remove(id) {
      for (const name of [manifestFileName(id), rewrappedKeyFile(id), dataFileName(id)])
        await client.delete(key(name)).catch((error) => fail(`could not delete ${name}`, error));
    },
    putLedger: (dir) => put(dir, LEDGER_FILE),
    async pullLedger(dir) {
      const remote = client.file(key(LEDGER_FILE));
      if (!(await remote.exists().catch((error) => fail("could not read the erasure ledger", error)))) return "none";
      const text = await remote.text();
      const path = join(dir, LEDGER_FILE);
      const local = existsSync(path) ? readFileSync(path, "utf8") : "";
      if (text.length <= local.length || !text.startsWith(local)) return "local";
      ensureBackupDir(dir);
      await get(dir, LEDGER_FILE);
      return "pulled";
    },
  };
  return offsite;
}

/** The installation's off-machine copy, when CAUSELOOP_BACKUP_S3_BUCKET is set. */
export function offsiteFor(config: Pick<Config, "backupS3">): Offsite | undefined {
  return config.backupS3 ? s3Offsite(config.backupS3) : undefined;
}

/**
 * Copies a backup just taken off the machine; null without a bucket. A failed upload fails the command with
 * the backup's place named: the backup itself is complete in the directory.
 */
export async function copyOffsite(config: Pick<Config, "backupS3">, dir: string, id: string): Promise<string | null> {
  const offsite = offsiteFor(config);
  if (!offsite) return null;
  try {
    await offsite.upload(dir, id);
  } catch (error) {
    throw new AppError(
      "not_ready",
      `backup ${id} is complete in ${dir} but was not copied off the machine: ${(error as Error).message}`,
    );
  }
  return offsite.where;
}

/** A backup named by id that the directory lacks is fetched from the bucket first (a lost machine). */
export async function fetchOffsite(config: Pick<Config, "backupS3">, dir: string, ref: string): Promise<void> {
  const offsite = offsiteFor(config);
  if (!offsite || !BACKUP_ID.test(ref) || existsSync(join(dir, manifestFileName(ref)))) return;
  await offsite.fetch(dir, ref);
}
