// The erasure ledger: every completed erasure, every tenant purge and every master-key rotation that drops a
// version also goes into an append-only file beside the backups (`erasure-ledger.jsonl` in the backup
// directory), not only into the database a restore rolls back. After a restore, the records newer than the
// backup are replayed (src/backups/replay.ts): a person erased or a tenant purged after the backup was taken
// does not come back.
// Each line is `{ record, signature }`: the record names the hash of the line before it (a chain, so a line
// removed or edited in the middle is seen) and is signed with the audit key like the backups' manifests.
// The file holds no personal data: a subject is named by its HMAC subject ref and user id, never its email.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Signer } from "../audit/signing.ts";
import { AppError } from "../errors.ts";
import { checkJson, signJson, type Jwks, type Signature } from "./manifest.ts";
import type { Offsite } from "./offsite.ts";
import { ensureBackupDir, processAlive } from "./store.ts";

export const LEDGER_FILE = "erasure-ledger.jsonl";
const LEDGER_FORMAT = "causeloop.erasure-ledger.v1";
const SIGNED_PREFIX = `${LEDGER_FORMAT}\n`;

export type LedgerEntry =
  | {
      kind: "subject.erased";
      workspace_id: string;
      request_id: string;
      subject_ref: string;
      user_id: string | null;
    }
  | {
      kind: "tenant.purged";
      slug: string;
      organization_id: string;
      workspace_ids: string[];
      offboarding_record: string;
    }
  | {
      /**
       * The master key ring got a new version and dropped the older ones: every data key alive at that moment,
       * wrapped under the new version. A backup taken before holds the same keys wrapped under a version that
       * is gone; the replay puts these wrappings in their place (keys destroyed since stay unreadable).
       */
      kind: "kek.rotated";
      kek_version: number;
      dropped: number[];
      deks: { workspace_id: string; version: number; wrapped_dek: string }[];
      factors: { user_id: string; id: string; secret_wrapped: string }[];
    };

export interface LedgerRecord {
  format: typeof LEDGER_FORMAT;
  seq: number;
  at: string;
  /** sha256 (hex) of the previous line, "" for the first. */
  prev: string;
  entry: LedgerEntry;
}

interface LedgerLine {
  record: LedgerRecord;
  signature: Signature;
}

export interface ErasureLedger {
  readonly path: string;
  append(entry: LedgerEntry): Promise<LedgerRecord>;
}

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** The last line's seq and hash, without checking signatures (the writer's view). */
function tail(path: string): { seq: number; hash: string } {
  if (!existsSync(path)) return { seq: 0, hash: "" };
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  const last = lines.at(-1);
  if (!last) return { seq: 0, hash: "" };
  let parsed: LedgerLine;
  try {
    parsed = JSON.parse(last) as LedgerLine;
  } catch {
    throw new AppError("internal", `the erasure ledger ${path} ends in a line that is not JSON: repair it first`);
  }
  return { seq: parsed.record.seq, hash: sha256(last) };
}

/** An exclusive lock beside the ledger (two processes may append: serve and an operator command). */
async function withFileLock<T>(path: string, run: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(lock, "utf8").trim());
      if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (attempt > 400) throw new AppError("conflict", `the erasure ledger is locked by process ${holder}`);
      await Bun.sleep(25);
    }
  }
  try {
    return await run();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The ledger in a backup directory, signing with the audit key. Appends are fsynced before they return. */
export function erasureLedger(dir: string, signer: Signer, offsite?: Pick<Offsite, "putLedger">): ErasureLedger {
  const path = join(dir, LEDGER_FILE);
  let queue: Promise<unknown> = Promise.resolve();
  const appendNow = (entry: LedgerEntry): Promise<LedgerRecord> => {
    ensureBackupDir(dir);
    return withFileLock(path, async () => {
      const last = tail(path);
      const record: LedgerRecord = {
        format: LEDGER_FORMAT,
        seq: last.seq + 1,
        at: new Date().toISOString(),
        prev: last.hash,
        entry,
      };
      const line: LedgerLine = { record, signature: await signJson(signer, SIGNED_PREFIX, record) };
      const fd = openSync(path, "a", 0o600);
      try {
        writeSync(fd, `${JSON.stringify(line)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return record;
    });
  };
  // The off-machine copy follows each append; a failed upload is not fatal (the local file is fsynced, and
  // the next append or backup uploads the whole ledger again).
  const appendAndCopy = async (entry: LedgerEntry) => {
    const record = await appendNow(entry);
    await offsite?.putLedger(dir).catch(() => undefined);
    return record;
  };
  return {
    path,
    append(entry) {
      // One append at a time in this process (the file lock keeps other processes out).
      const next = queue.then(() => appendAndCopy(entry));
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

export interface LedgerRead {
  records: LedgerRecord[];
  /** Broken links, bad signatures, unreadable lines: each says which line. */
  problems: string[];
}

/** Reads and checks the whole ledger (chain and signatures); a missing file is an empty ledger. */
export async function readLedger(dir: string, keys: Jwks["keys"]): Promise<LedgerRead> {
  const path = join(dir, LEDGER_FILE);
  if (!existsSync(path)) return { records: [], problems: [] };
  const records: LedgerRecord[] = [];
  const problems: string[] = [];
  let prev = "";
  const lines = readFileSync(path, "utf8").split("\n").filter(Boolean);
  for (const [index, text] of lines.entries()) {
    const n = index + 1;
    let line: LedgerLine;
    try {
      line = JSON.parse(text) as LedgerLine;
    } catch {
      problems.push(`line ${n} is not JSON`);
      prev = sha256(text);
      continue;
    }
    if (line.record?.format !== LEDGER_FORMAT) problems.push(`line ${n} is not an erasure ledger record`);
    else {
      if (line.record.prev !== prev)
        problems.push(`line ${n} does not follow line ${n - 1} (a line removed or edited)`);
      const verdict = await checkJson(keys, SIGNED_PREFIX, line.record, line.signature);
      if (verdict === "no_key")
        problems.push(`line ${n}: no public key ${line.signature?.key_id} to check its signature`);
      else if (verdict === "bad") problems.push(`line ${n}: its signature does not verify (tampered)`);
      records.push(line.record);
    }
    prev = sha256(text);
  }
  return { records, problems };
}
