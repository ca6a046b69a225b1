// The PostgreSQL client tools backups use: found in CAUSELOOP_PG_BIN_DIR, else on PATH, else in the newest
// /usr/lib/postgresql/<major>/bin; checked to be of the server's major version or newer before they run; given
// the connection without its password, which goes in PGPASSWORD (never their arguments, never logged).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseUrlInfo } from "../config.ts";
import type { Queryable } from "../db/engine.ts";
import { AppError } from "../errors.ts";

export type Tool = "pg_dump" | "pg_restore";
interface Located {
  path: string;
  version: string;
  major: number;
}

const DEBIAN_BIN = "/usr/lib/postgresql";

/**
 * Where the tool may be, in order: CAUSELOOP_PG_BIN_DIR alone when set; else PATH, then the newest Debian
 * /usr/lib/postgresql/<major>/bin (PATH's may be an older version, or Debian's wrapper choosing one).
 */
function candidates(tool: Tool, binDir: string | undefined): string[] {
  if (binDir) {
    const path = join(binDir, tool);
    if (!existsSync(path)) throw new AppError("config_invalid", `CAUSELOOP_PG_BIN_DIR=${binDir} has no ${tool}`);
    return [path];
  }
  const newest = existsSync(DEBIAN_BIN)
    ? readdirSync(DEBIAN_BIN)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(DEBIAN_BIN, v, "bin", tool)))
        .sort((a, b) => Number(b) - Number(a))[0]
    : undefined;
  const found = [Bun.which(tool), newest ? join(DEBIAN_BIN, newest, "bin", tool) : undefined].filter((p): p is string =>
    Boolean(p),
  );
  if (found.length > 0) return found;
  throw new AppError(
    "config_invalid",
    `${tool} not found: install the PostgreSQL client tools of your server's major version or newer (e.g. apt-get install postgresql-client-16), or set CAUSELOOP_PG_BIN_DIR`,
  );
}

function versionOf(tool: Tool, path: string): { version: string; major: number } {
  const run = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "pipe" });
  const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)?\S*)/.exec(run.stdout.toString());
  if (run.exitCode !== 0 || !match)
    throw new AppError("config_invalid", `${path} --version did not say which PostgreSQL ${tool} it is`);
  return { version: match[1] as string, major: Number(match[2]) };
}

export async function serverVersion(db: Queryable): Promise<{ version: string; major: number }> {
  const [row] = await db.query<{ num: number; version: string }>(
    "select current_setting('server_version_num')::int as num, current_setting('server_version') as version",
  );
  return { version: row?.version ?? "?", major: Math.floor((row?.num ?? 0) / 10_000) };
}

/**
 * The first candidate of the server's major version or newer (and of the dump's, for pg_restore); else one
 * clear line naming the version found.
 */
export async function requireClient(
  tool: Tool,
  binDir: string | undefined,
  db: Queryable,
  dumpMajor = 0,
): Promise<Located> {
  const server = await serverVersion(db);
  const [major, what] =
    dumpMajor > server.major
      ? [dumpMajor, `pg_dump ${dumpMajor} that made this backup`]
      : [server.major, `PostgreSQL ${server.major} server`];
  const found = candidates(tool, binDir).map((path) => ({ path, ...versionOf(tool, path) }));
  const usable = found.find((f) => f.major >= major);
  if (usable) return usable;
  const first = found[0] as Located;
  throw new AppError(
    "config_invalid",
    `${tool} ${first.version} is older than the ${what}: install a PostgreSQL ${major} client (or set CAUSELOOP_PG_BIN_DIR)`,
  );
}

/** The connection the client tools get: the URL without its password (which goes in PGPASSWORD) and a lean environment. */
export function libpq(
  info: DatabaseUrlInfo,
  database = info.database,
): { dbname: string; env: Record<string, string> } {
  const url = new URL(info.url);
  const password = decodeURIComponent(url.password);
  url.password = "";
  url.pathname = `/${encodeURIComponent(database)}`;
  const env: Record<string, string> = { PGAPPNAME: "causeloop-backup" };
  for (const [name, value] of Object.entries(process.env))
    if (value !== undefined && (/^(PATH|HOME|TMPDIR|TZ|LANG|LC_\w+)$/.test(name) || name.startsWith("PG")))
      env[name] = value;
  delete env.PGPASSWORD;
  if (password) env.PGPASSWORD = password;
  return { dbname: url.toString(), env };
}

/** The first lines a client tool wrote to stderr, with any connection URL left out. */
export const reasonFrom = (stderr: string) =>
  stderr
    .trim()
    .split("\n")
    .slice(0, 3)
    .join(" / ")
    .replace(/postgres(ql)?:\/\/\S+/g, "<url>");

export async function run(path: string, args: string[], env: Record<string, string>): Promise<string> {
  const proc = Bun.spawn([path, ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0)
    throw new AppError("internal", `${path.split("/").at(-1)} failed (exit ${code}): ${reasonFrom(stderr)}`);
  return stdout;
}
