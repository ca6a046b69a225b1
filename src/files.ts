// Files the binary carries and files it writes that must never be seen half-written or readable by others.
import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";

/**
 * A file `scripts/build.ts` embedded in the binary, found by the start of its name (the bundler may add to
 * it); none when running from source.
 */
export function embeddedFile(prefix: string, suffix = ""): Blob | undefined {
  if (!Bun.isStandaloneExecutable) return undefined;
  return Bun.embeddedFiles.find((file) => {
    const name = (file as Blob & { name?: string }).name ?? "";
    return name.startsWith(prefix) && name.endsWith(suffix);
  });
}

/**
 * Writes `data` to a file beside `path` with `mode` (0600 by default), then renames it into place: a crash or a
 * full disk leaves the old file or none, never half of the new one. On failure the partial file is removed
 * and the error rethrown.
 */
export function writeFileAtomically(path: string, data: string | Uint8Array, mode = 0o600): void {
  const staging = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(staging, data, { mode });
    chmodSync(staging, mode); // the process's umask may have narrowed or widened it
    renameSync(staging, path);
  } catch (error) {
    rmSync(staging, { force: true });
    throw error;
  }
}
