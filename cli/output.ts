// Shared CLI plumbing: configuration from flags, errors as one line with the catalogue's exit code, tables.
import { explainDatabaseError } from "../src/db/explain.ts";
import type { Command } from "commander";
import { writeSync } from "node:fs";
import { ConfigError, loadConfig, type Config, type ConfigOverrides } from "../src/config.ts";
import { AppError } from "../src/errors.ts";
import { redact } from "../src/log.ts";

export interface CommonFlags {
  dataDir?: string;
  databaseUrl?: string;
  json?: boolean;
}

export function withDatabaseFlags(command: Command): Command {
  return command
    .option("--data-dir <dir>", "PGlite data directory when DATABASE_URL is unset (env CAUSELOOP_DATA_DIR)")
    .option("--database-url <url>", "PostgreSQL runtime connection (env DATABASE_URL)");
}

export function configFrom(flags: CommonFlags & ConfigOverrides): Config {
  return loadConfig(process.env, {
    dataDir: flags.dataDir,
    databaseUrl: flags.databaseUrl,
    host: flags.host,
    port: flags.port,
    insecureAllowBypassRls: flags.insecureAllowBypassRls,
    migrate: flags.migrate,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
  });
}

/** Prints one line to stderr and exits with the error's code: 2 for bad input or configuration. */
/** Writes to stderr synchronously: these lines come right before process.exit, which must not lose them. */
const say = (line: string) => writeSync(2, line);

export function fail(error: unknown): never {
  if (error instanceof ConfigError) {
    say(`causeloop: error: ${redact(error.message)}\n`);
    process.exit(2);
  }
  if (error instanceof AppError) {
    say(`causeloop: error: ${redact(error.message)}\n`);
    process.exit(error.exitCode);
  }
  const refused = explainDatabaseError(error);
  if (refused) {
    say(`causeloop: error: ${redact(refused)}\n`);
    process.exit(1);
  }
  const message = error instanceof Error ? error.message : String(error);
  say(`causeloop: unexpected error: ${redact(message.split("\n")[0] ?? "")}\n`);
  if (process.env.CAUSELOOP_DEBUG === "1" && error instanceof Error) say(`${error.stack}\n`);
  process.exit(1);
}

/** Runs a command action, turning every failure into one line and an exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      fail(error);
    }
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** A file named on the command line, which must exist: a missing one is a clear error naming it. */
export async function existingFile(path: string, what: string): Promise<ReturnType<typeof Bun.file>> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new AppError("bad_request", `${what} ${path} does not exist`);
  return file;
}

/** The keys of a `--jwks` file (as fetched from /.well-known/jwks.json), or a clear error. */
export async function readJwksFile(
  path: string,
): Promise<{ keys: { kty: string; crv: string; x: string; kid?: string }[] }> {
  const jwks = (await (await existingFile(path, "--jwks")).json().catch(() => undefined)) as
    | { keys?: unknown }
    | undefined;
  if (!Array.isArray(jwks?.keys))
    throw new AppError("bad_request", `--jwks ${path} is not a JSON key set (an object with a keys array)`);
  return jwks as { keys: { kty: string; crv: string; x: string; kid?: string }[] };
}

/** A progress bar on stderr when it is a terminal (nothing otherwise, so piped output stays clean). */
export function progressBar(label: string, unit = ""): (done: number, total: number) => void {
  return (done, total) => {
    if (!process.stderr.isTTY) return;
    const width = 30;
    const filled = total ? Math.min(width, Math.round((done / total) * width)) : width;
    process.stderr.write(
      `\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}${unit}${done >= total ? "\n" : ""}`,
    );
  };
}
