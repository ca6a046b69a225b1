// A PGlite data directory is opened by one process at a time (a second open corrupts it). The holder writes
// its pid and role into causeloop.lock; others see a live holder and either go through its control socket
// (when it is `serve`) or wait briefly (another operator command) before failing with a clear message.
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";

export interface LockHolder {
  pid: number;
  kind: "serve" | "command";
  startedAt: string;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

export const lockPath = (dataDir: string) => join(dataDir, "causeloop.lock");
export const controlSocketPath = (dataDir: string) => join(dataDir, "control.sock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readLockHolder(dataDir: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(lockPath(dataDir), "utf8")) as LockHolder;
    return Number.isInteger(holder.pid) && alive(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

function tryAcquire(dataDir: string, kind: LockHolder["kind"]): DataDirLock | undefined {
  const path = lockPath(dataDir);
  const temp = `${path}.${process.pid}.${Date.now()}`;
  const fd = openSync(temp, "w", 0o600);
  writeSync(fd, JSON.stringify({ pid: process.pid, kind, startedAt: new Date().toISOString() } satisfies LockHolder));
  closeSync(fd);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(temp, path); // atomic: fails when the lock file exists
        let released = false;
        return {
          path,
          release() {
            if (released) return;
            released = true;
            try {
              const holder = JSON.parse(readFileSync(path, "utf8")) as LockHolder;
              if (holder.pid === process.pid) unlinkSync(path);
            } catch {
              // already gone
            }
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (readLockHolder(dataDir)) return undefined;
        try {
          unlinkSync(path); // stale: its process is gone
        } catch {
          // someone else cleared it first
        }
      }
    }
    return undefined;
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // ignore
    }
  }
}

/** Takes the data-dir lock, waiting up to waitMs for a short-lived holder; fails with one clear line. */
export async function acquireDataDirLock(
  dataDir: string,
  kind: LockHolder["kind"],
  waitMs: number,
): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryAcquire(dataDir, kind);
    if (lock) return lock;
    const holder = readLockHolder(dataDir);
    if (holder?.kind === "serve" || Date.now() >= deadline) {
      const who = holder
        ? `${holder.kind === "serve" ? "causeloop serve" : "another causeloop command"} (pid ${holder.pid})`
        : "another process";
      throw new AppError(
        "data_dir_locked",
        `data directory ${dataDir} is in use by ${who}; stop it first or point --data-dir elsewhere`,
      );
    }
    await Bun.sleep(100);
  }
}
