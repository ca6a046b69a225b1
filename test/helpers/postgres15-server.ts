// Debian's PostgreSQL 15 (apt-get install postgresql-15, which .ci/run installs) for the tests of backups on a
// server whose own pg_dump is installed: initdb and pg_ctl run in a temporary directory on a free port (as the
// postgres user when the tests run as root), started by the test itself and stopped by it (never a cluster
// Debian started).
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { freePort } from "./binary.ts";
import { APP_PASSWORD } from "./db.ts";
import type { PostgresServer } from "./postgres-server.ts";

export const PG15_BIN_DIR = "/usr/lib/postgresql/15/bin";
const SUPERUSER_PASSWORD = "test-pg15-superuser-password";

/** Why the PostgreSQL 15 tests cannot run here, or undefined when they can. */
export function pg15Missing(): string | undefined {
  for (const tool of ["initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore"])
    if (!existsSync(join(PG15_BIN_DIR, tool)))
      return `${join(PG15_BIN_DIR, tool)} is missing: apt-get install postgresql-15 postgresql-client-15 (.ci/run does)`;
  if (process.getuid?.() === 0 && Bun.spawnSync(["id", "-u", "postgres"]).exitCode !== 0)
    return "running as root, and there is no postgres user to run the server as";
  return undefined;
}

export interface Postgres15 extends PostgresServer {
  binDir: string;
  /** The server's data directory and the directory of its socket (for tools like pgBackRest). */
  dataDir: string;
  socketDir: string;
  superuserPassword: string;
  /** A new database on this server, migrated, with causeloop_app set up (password APP_PASSWORD). */
  createDatabase(name: string): Promise<{ ownerUrl: string; databaseUrl: string }>;
  /** A new empty database. */
  createEmptyDatabase(name: string): Promise<string>;
}

/** Runs a server tool as the postgres user when this is root (PostgreSQL refuses root), else as this user. */
export function asPostgres(args: string[]) {
  const asRoot = process.getuid?.() === 0;
  const run = Bun.spawnSync(asRoot ? ["runuser", "-u", "postgres", "--", ...args] : args, {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (run.exitCode !== 0)
    throw new Error(`${args[0]} failed (${run.exitCode}): ${run.stderr.toString()}${run.stdout.toString()}`);
}

/** Starts a PostgreSQL 15 server of its own; stop() stops it and removes its data. */
export async function startPostgres15(settings: { conf?: string } = {}): Promise<Postgres15> {
  const base = mkdtempSync(join(tmpdir(), "causeloop-pg15-"));
  chmodSync(base, 0o777);
  const data = join(base, "data");
  const pwfile = join(base, "pw");
  writeFileSync(pwfile, SUPERUSER_PASSWORD, { mode: 0o644 });
  const port = await freePort();
  asPostgres([
    join(PG15_BIN_DIR, "initdb"),
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${pwfile}`,
    "--encoding=UTF8",
    "--locale=C",
  ]);
  rmSync(pwfile);
  // Settings of a test's own (WAL archiving, say), appended before the first start.
  if (settings.conf) appendFileSync(join(data, "postgresql.conf"), `\n${settings.conf}\n`);
  const options = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  asPostgres([join(PG15_BIN_DIR, "pg_ctl"), "-D", data, "-l", join(base, "log"), "-o", options, "-w", "start"]);
  const superuserUrl = (database = "postgres") =>
    `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`;
  const admin = async (statement: string) => {
    const sql = postgres(superuserUrl(), { onnotice: () => {}, max: 1 });
    try {
      await sql.unsafe(statement);
    } finally {
      await sql.end();
    }
  };
  return {
    port,
    binDir: PG15_BIN_DIR,
    dataDir: data,
    socketDir: base,
    superuserPassword: SUPERUSER_PASSWORD,
    superuserUrl,
    createEmptyDatabase: async (name) => {
      await admin(`create database ${name}`);
      return superuserUrl(name);
    },
    createDatabase: async (name) => {
      await admin(`create database ${name}`);
      const engine = await openPostgres(parseDatabaseUrl(superuserUrl(name), "owner"), 2);
      try {
        await migrate(engine);
        await setupAppRole(engine, { password: APP_PASSWORD });
      } finally {
        await engine.close();
      }
      return {
        ownerUrl: superuserUrl(name),
        databaseUrl: `postgres://causeloop_app:${APP_PASSWORD}@127.0.0.1:${port}/${name}`,
      };
    },
    stop: async () => {
      try {
        asPostgres([join(PG15_BIN_DIR, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
