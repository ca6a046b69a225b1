// A database outage, end to end on the compiled binary against a PostgreSQL 16 of the test's own: while the
// database is down (refusing) or hangs (suspended), requests answer 503 database_unreachable with Retry-After
// within a few seconds instead of a 500 or no answer, /readyz answers "not ready" within about a second, and
// once the database is back requests succeed again. PostgreSQL only: the embedded database cannot go away. And
// before any of that, a burst of more requests than the pool has connections, right after start, is answered
// without any of them waiting for a connection the others hold.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { startServe, type ServeProcess } from "../helpers/binary.ts";
import { startDedicatedPostgres, type DedicatedPostgres } from "../helpers/postgres-server.ts";

const APP_PASSWORD = "outage-app-role-password-0123456789";
// Generous bounds: this is about hanging versus answering, not about speed on a busy machine.
const ANSWER_WITHIN_MS = 8_000;
const READYZ_WITHIN_MS = 2_500;

let pg: DedicatedPostgres;
let serve: ServeProcess | undefined;
let token: string;

beforeAll(async () => {
  pg = await startDedicatedPostgres();
  const admin = postgres(pg.superuserUrl(), { onnotice: () => {}, max: 1 });
  await admin.unsafe("create database causeloop");
  await admin.end();
  const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const owner = await openPostgres(parseDatabaseUrl(pg.superuserUrl("causeloop"), "owner"), 2);
  await migrate(owner);
  await setupAppRole(owner, { password: APP_PASSWORD });
  token = (
    await onboard(owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" }, new LocalKeyRing(masterKey))
  ).admin_token as string;
  await owner.close();
  serve = await startServe([], {
    DATABASE_URL: `postgres://causeloop_app:${APP_PASSWORD}@127.0.0.1:${pg.port}/causeloop`,
    CAUSELOOP_MASTER_KEY: masterKey,
    CAUSELOOP_DB_POOL_SIZE: "4",
    CAUSELOOP_DB_ACQUIRE_TIMEOUT_MS: "2000",
    CAUSELOOP_DB_CONNECT_TIMEOUT_MS: "1500",
    CAUSELOOP_LOG_LEVEL: "error",
  });
});

afterAll(async () => {
  await serve?.stop("SIGKILL");
  await pg?.dispose();
});

async function timed(
  path: string,
  auth = true,
): Promise<{ status: number; ms: number; retryAfter: string | null; body: { code?: string; status?: string } }> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(`${serve?.url}${path}`, {
      headers: auth ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    // If the server went away, say how: its exit code and what it wrote.
    const code = serve?.proc.exitCode ?? serve?.proc.signalCode ?? "still running";
    throw new Error(`${path}: ${(error as Error).message}; serve: ${code}\n${serve?.output() ?? ""}`);
  }
  const body = (await response.json()) as { code?: string };
  return {
    status: response.status,
    ms: performance.now() - started,
    retryAfter: response.headers.get("retry-after"),
    body,
  };
}

async function untilServing(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if ((await timed("/v1/issues")).status === 200 && (await timed("/readyz", false)).status === 200) return;
    if (Date.now() > deadline) throw new Error("the server did not recover after the database came back");
    await Bun.sleep(250);
  }
}

function expectUnavailable(answer: Awaited<ReturnType<typeof timed>>): void {
  expect(answer.status).toBe(503);
  expect(answer.body.code).toBe("database_unreachable");
  expect(Number(answer.retryAfter)).toBeGreaterThan(0);
  expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
}

test("a burst of more requests than the pool has connections, first thing after start: every one answered, none stalls", async () => {
  // The token has not been used yet, so every request's rate-limit check must reserve from the shared buckets
  // while the request holds a pooled connection (reads and the issue write each run in one held transaction).
  const post = async (i: number) => {
    const response = await fetch(`${serve?.url}/v1/issues`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: `Burst ${i}`, severity: "low" }),
      signal: AbortSignal.timeout(30_000),
    });
    return response.status;
  };
  const statuses = await Promise.all([
    ...Array.from({ length: 8 }, async () => (await timed("/v1/issues")).status),
    ...Array.from({ length: 8 }, (_, i) => post(i)),
  ]);
  expect(statuses).toEqual([...Array(8).fill(200), ...Array(8).fill(201)]);
  // Reads pass a failing limiter and writes get 503: either way a reservation that waited for the pool says so.
  expect(serve?.output() ?? "").not.toContain("ratelimit.store_failed");
}, 60_000);

test("database stopped: 503 database_unreachable with Retry-After, /readyz not ready at once, recovery after restart", async () => {
  expect((await timed("/v1/issues")).status).toBe(200);
  // Requests in flight while the database goes away end with an answer too.
  const inFlight = Array.from({ length: 12 }, () => timed("/v1/issues"));
  await pg.stop();
  for (const answer of await Promise.all(inFlight)) {
    expect([200, 503]).toContain(answer.status);
    expect(answer.ms).toBeLessThan(ANSWER_WITHIN_MS);
  }
  for (let i = 0; i < 3; i++) expectUnavailable(await timed("/v1/issues"));
  const ready = await timed("/readyz", false);
  expect(ready.status).toBe(503);
  expect(ready.ms).toBeLessThan(READYZ_WITHIN_MS);

  await pg.start();
  await untilServing();
}, 120_000);

test("database hanging (suspended): requests give up within the acquire timeout, /readyz within a second, all recover", async () => {
  expect((await timed("/v1/issues")).status).toBe(200);
  pg.freeze();
  try {
    const answers = await Promise.all(Array.from({ length: 8 }, () => timed("/v1/issues")));
    for (const answer of answers) expectUnavailable(answer);
    const ready = await timed("/readyz", false);
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(READYZ_WITHIN_MS);
    // While the pool is stuck, /readyz still answers on its own connection budget, every time.
    expect((await timed("/readyz", false)).ms).toBeLessThan(READYZ_WITHIN_MS);
  } finally {
    pg.thaw();
  }
  await untilServing();
}, 120_000);
