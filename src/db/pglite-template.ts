// The embedded database template: a PGlite data directory initialized, fully migrated and with the runtime
// role set up, made at build time (scripts/build.ts) and embedded in the binary. A first start unpacks it
// instead of running initdb and every migration (seconds), then applies only migrations newer than it.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { embeddedFile } from "../files.ts";

/** The file name the build gives the template; the binary finds it among its embedded files by it. */
export const TEMPLATE_FILE = "pglite-template.tar.gz";

/** The template embedded in this binary, if any (none when running from source: initdb is the fallback). */
export function embeddedTemplate(): Blob | undefined {
  return embeddedFile(TEMPLATE_FILE.replace(/\.tar\.gz$/, ""), ".tar.gz");
}

/** Packs a cleanly shut-down PGlite data directory into a gzipped tarball. */
export async function packTemplate(pgdata: string, outfile: string): Promise<number> {
  const files: Record<string, Uint8Array> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
        // Empty directories (pg_tblspc, pg_twophase...) must exist too: a marker keeps them in the archive.
        if (readdirSync(full).length === 0) files[`${relative(pgdata, full)}/.keep`] = new Uint8Array();
      } else if (entry.name !== "postmaster.pid") files[relative(pgdata, full)] = readFileSync(full);
    }
  };
  walk(pgdata);
  await Bun.write(outfile, await new Bun.Archive(files, { compress: "gzip", level: 9 }).blob());
  return statSync(outfile).size;
}

/** Trailing zero bytes are left as a hole (the WAL segment is mostly zeros): the file reads the same. */
function writeSparse(path: string, bytes: Uint8Array): void {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  // Whole 8 KiB pages only, so PostgreSQL's pages are either written or a hole.
  end = Math.min(bytes.length, Math.ceil(end / 8192) * 8192);
  writeFileSync(path, bytes.subarray(0, end), { mode: 0o600 });
  if (end < bytes.length) truncateSync(path, bytes.length);
}

/**
 * Unpacks the template into pgdata, which must not exist or be empty. It is written beside it first and
 * renamed into place, so an interrupted unpack never leaves a half-written database behind.
 */
export async function unpackTemplate(template: Blob, pgdata: string): Promise<void> {
  const staging = `${pgdata}.unpacking-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  try {
    const files = await new Bun.Archive(Bun.gunzipSync(await template.bytes())).files();
    for (const [path, file] of files) {
      const target = join(staging, path);
      mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
      if (path.endsWith("/.keep") || path === ".keep") continue;
      writeSparse(target, await file.bytes());
    }
    if (!existsSync(join(staging, "PG_VERSION"))) throw new Error("the embedded template holds no PG_VERSION");
    if (existsSync(pgdata)) rmSync(pgdata, { recursive: true }); // empty, checked by the caller
    renameSync(staging, pgdata);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
