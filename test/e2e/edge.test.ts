// Two `serve` processes (the compiled binary) on one PostgreSQL 16: a credential's rate-limit budget is one
// budget across both, and an Idempotency-Key used at one instance is replayed by the other.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { runBinary, startServe, type ServeProcess } from "../helpers/binary.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let db: TestDb;
const home = mkdtempSync(join(tmpdir(), "causeloop-edge-home-"));
let env: Record<string, string>;
const servers: ServeProcess[] = [];
let token: string;

beforeAll(async () => {
  db = await createTestDb("postgres");
  env = {
    HOME: home, // both instances read the same generated server keys
    DATABASE_URL: db.databaseUrl as string,
    DATABASE_OWNER_URL: db.ownerUrl as string,
    CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    CAUSELOOP_RATE_LIMIT_PER_MINUTE: "40",
  };
  const onboarded = await runBinary(
    ["onboard", "acme", "--name", "Acme", "--admin-email", "ops@acme.example", "--json"],
    env,
  );
  expect(onboarded.code).toBe(0);
  token = (JSON.parse(onboarded.stdout) as { admin_token: string }).admin_token;
  servers.push(await startServe([], env));
  servers.push(await startServe([], env));
}, 180_000);
afterAll(async () => {
  for (const s of servers) await s.stop();
  await db?.dispose();
  rmSync(home, { recursive: true, force: true });
});

test("one credential's budget is shared by both instances", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const server = servers[i % 2] as ServeProcess;
    const response = await fetch(`${server.url}/v1/issues`, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  const allowed = statuses.filter((s) => s === 200).length;
  // 40 a minute in all (each instance holds at most one unspent slice of 2): never 40 per instance.
  expect(allowed).toBeLessThanOrEqual(40);
  expect(allowed).toBeGreaterThanOrEqual(36);
  expect(statuses.slice(-10).every((s) => s === 429)).toBe(true);
});

test("an Idempotency-Key sent to one instance is replayed by the other", async () => {
  const send = (server: ServeProcess, withToken: string) =>
    fetch(`${server.url}/v1/issues`, {
      method: "POST",
      headers: { authorization: `Bearer ${withToken}`, "content-type": "application/json", "idempotency-key": "once" },
      body: JSON.stringify({ title: "Created once" }),
    });
  // A fresh token: the first one spent its budget above.
  const session = await runBinary(
    ["onboard", "bravo", "--name", "Bravo", "--admin-email", "ops@bravo.example", "--json"],
    env,
  );
  const fresh = (JSON.parse(session.stdout) as { admin_token: string }).admin_token;
  const first = await send(servers[0] as ServeProcess, fresh);
  const second = await send(servers[1] as ServeProcess, fresh);
  expect([first.status, second.status]).toEqual([201, 201]);
  expect(second.headers.get("idempotent-replayed")).toBe("true");
  expect(await second.json()).toEqual(await first.json());
  const [row] = await db.owner.query<{ n: number }>(
    "select count(*)::int as n from issues where title = 'Created once'",
  );
  expect(row?.n).toBe(1);
});
