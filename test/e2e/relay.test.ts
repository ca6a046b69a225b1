// The relay end to end with three kinds of process: `serve` (two instances on one PostgreSQL), `causeloop
// relay` (the compiled binary, as a client runs it) and a PostgreSQL 16 database standing for the client's.
// A query through the API returns masked rows wherever the relay is connected; forbidden tables, writes and
// dangerous functions are refused with reasons; kill -9 of the relay and of the server each recover, with the
// in-flight query answered by a clear error.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { compiledBinary, freePort, runBinary, startServe, type ServeProcess } from "../helpers/binary.ts";
import { postgresServer } from "../helpers/postgres-server.ts";
import { customerDatabase, type CustomerDb } from "../helpers/relay.ts";
// causeloop_app is the shared test server's role: its password is the one every test uses.
import { APP_PASSWORD } from "../helpers/db.ts";

type Json = Record<string, unknown>;

let customer: CustomerDb;
let dir: string;
let database: string;
let env: Record<string, string>;
let token: string;
let workspace: string;
let portA: number;
let serveA: ServeProcess | undefined;
let serveB: ServeProcess | undefined;
let relay: ReturnType<typeof Bun.spawn> | undefined;
let relayOutput = "";

async function startRelay(): Promise<void> {
  const binary = await compiledBinary();
  relay = Bun.spawn([binary, "relay", "--config", join(dir, "relay.json"), "--log-format", "json"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) relayOutput += decoder.decode(chunk);
  };
  void collect(relay.stdout as ReadableStream<Uint8Array>);
  void collect(relay.stderr as ReadableStream<Uint8Array>);
}

async function call(base: string, path: string, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as Json, text };
}

/** Waits until the relay's newest connection is live and its connector answers a query through `base`. */
async function untilAnswering(base: string, connectorId: () => Promise<string>, withinMs = 45_000): Promise<string> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      const id = await connectorId();
      const answer = await call(base, `/v1/connectors/${id}/query`, { sql: "select 1 as one" });
      if (answer.status === 200) return id;
    } catch {
      // not yet
    }
    if (Date.now() > deadline)
      throw new Error(`the relay did not answer within ${withinMs} ms: ${relayOutput.slice(-2000)}`);
    await Bun.sleep(300);
  }
}

const connectorOf = async () => {
  const list = await call(serveB?.url as string, "/v1/connectors");
  const found = (list.json.data as Json[]).find((c) => c.display_name === "prod/main");
  if (!found) throw new Error("no connector yet");
  return found.id as string;
};

beforeAll(async () => {
  await compiledBinary();
  const server = await postgresServer();
  customer = await customerDatabase();
  database = `causeloop_relay_e2e_${process.pid}`;
  const admin = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
  await admin.unsafe(`create database ${database}`);
  await admin.end();
  const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const owner = await openPostgres(parseDatabaseUrl(server.superuserUrl(database), "owner"), 2);
  await migrate(owner);
  await setupAppRole(owner, { password: APP_PASSWORD });
  const acme = await onboard(
    owner,
    { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" },
    new LocalKeyRing(masterKey),
  );
  await owner.close();
  token = acme.admin_token as string;
  workspace = acme.workspace_id;
  dir = mkdtempSync(join(tmpdir(), "causeloop-relay-e2e-"));
  env = {
    DATABASE_URL: `postgres://causeloop_app:${APP_PASSWORD}@127.0.0.1:${server.port}/${database}`,
    DATABASE_OWNER_URL: server.superuserUrl(database),
    CAUSELOOP_MASTER_KEY: masterKey,
    CAUSELOOP_DATA_DIR: dir,
    CAUSELOOP_LOG_LEVEL: "warn",
  };
  const created = await runBinary(["relay-token", "create", "--workspace", workspace, "--name", "prod", "--json"], env);
  expect(created.code).toBe(0);
  portA = await freePort();
  serveA = await startServe(["--port", String(portA)], env);
  serveB = await startServe([], env);
  writeFileSync(
    join(dir, "relay.json"),
    JSON.stringify({
      server: serveA.url,
      token: (JSON.parse(created.stdout) as { token: string }).token,
      databases: [{ name: "main", kind: "postgres", url: customer.readerUrl }],
      policy: { postgres: { tables: { allow: ["public.customers", "public.orders"] } } },
    }),
  );
  await startRelay();
}, 180_000);

afterAll(async () => {
  relay?.kill("SIGKILL");
  await serveA?.stop("SIGKILL");
  await serveB?.stop("SIGKILL");
  await customer?.dispose();
  const server = await postgresServer();
  const admin = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("queries through either instance return masked rows; refusals carry the relay's reason", async () => {
  const id = await untilAnswering(serveB?.url as string, connectorOf);
  for (const base of [serveA?.url as string, serveB?.url as string]) {
    const answer = await call(base, `/v1/connectors/${id}/query`, {
      sql: "select name, email, phone from customers order by id",
    });
    expect(answer.status).toBe(200);
    expect((answer.json.rows as unknown[]).length).toBe(3);
    expect(answer.text).not.toContain("ada@example.com");
    expect(answer.text).not.toContain("7946 0958");
  }
  for (const [sql, reason] of [
    ["select * from secrets", /secrets/i],
    ["update customers set email = null", /UPDATE|only SELECT|not allowed/i],
    ["select pg_read_file('/etc/passwd')", /pg_read_file/i],
  ] as const) {
    const refused = await call(serveB?.url as string, `/v1/connectors/${id}/query`, { sql });
    expect(refused.status).toBe(422);
    expect(String(refused.json.detail)).toMatch(reason);
  }
  // The client's own checks before deploying: the token works at the server, the role is read-only.
  const check = await runBinary(["relay", "--config", join(dir, "relay.json"), "--check"], { HOME: dir });
  expect(check.code).toBe(0);
  expect(check.stdout).toContain("relay prod, protocol 1");
  expect(check.stdout).toContain("main (postgres): ok");
  writeFileSync(join(dir, "bad.json"), JSON.stringify({ server: "ftp://x", token: "nope", databases: [] }));
  const bad = await runBinary(["relay", "--config", join(dir, "bad.json")], { HOME: dir });
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim().split("\n")).toEqual(["causeloop: error: server: must be an https:// URL"]);
  const status = await runBinary(["relays", "--workspace", workspace, "--json"], env);
  expect((JSON.parse(status.stdout) as Json[])[0]).toMatchObject({ relay: "prod", status: "connected" });
}, 120_000);

test("kill -9 of the relay: the in-flight query gets a clear error, and a restarted relay answers again", async () => {
  const id = await connectorOf();
  const slow = call(serveB?.url as string, `/v1/connectors/${id}/query`, {
    sql: "select count(*) from generate_series(1, 400000000)",
    timeout_ms: 60_000,
  });
  await Bun.sleep(1_500);
  relay?.kill("SIGKILL");
  const answer = await slow;
  expect(answer.status).toBe(503);
  expect(answer.json.code).toBe("relay_unavailable");
  expect(String(answer.json.detail)).toMatch(/disconnected before answering/);
  await startRelay();
  await untilAnswering(serveB?.url as string, connectorOf);
}, 120_000);

test("kill -9 of the server holding the relay: a query meanwhile fails clearly, the relay reconnects when it is back", async () => {
  const id = await connectorOf();
  await serveA?.stop("SIGKILL");
  const meanwhile = await call(serveB?.url as string, `/v1/connectors/${id}/query`, {
    sql: "select 1 as one",
    timeout_ms: 1_000,
  });
  expect([503, 504]).toContain(meanwhile.status);
  expect(["relay_unavailable", "relay_timeout"]).toContain(meanwhile.json.code as string);
  serveA = await startServe(["--port", String(portA)], env);
  await untilAnswering(serveB?.url as string, connectorOf, 60_000);
  const relays = await call(serveB?.url as string, "/v1/relays");
  const connected = (relays.json.data as Json[]).filter((r) => r.status === "connected");
  expect(connected.length).toBe(1);
}, 150_000);
