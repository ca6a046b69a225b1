// The console's operator session: on a PGlite data dir nobody serves, a burst of operations shares one open
// of the database, and the data dir is free again once the console is idle (so `serve` or a CLI command can
// take it). On PostgreSQL it simply runs each operation.
import { afterEach, expect, test } from "bun:test";
import { readLockHolder } from "../../src/db/lock.ts";
import { operatorSession, runOperation } from "../../src/operator/transport.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

test("PGlite: one open for a burst, the data dir released when idle and at close", async () => {
  db = await createTestDb("pglite");
  await db.owner.close(); // the session opens the data dir itself, as the console does
  const config = { ...db.config, lockWaitMs: 0 };
  const session = operatorSession(config, 300);
  try {
    expect(await session.run("tenants.list")).toEqual([]);
    const holder = readLockHolder(config.dataDir);
    expect(holder).toMatchObject({ pid: process.pid, kind: "command" });
    await session.run("onboard", { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const tenants = (await session.run("tenants.list")) as { slug: string }[];
    expect(tenants.map((t) => t.slug)).toEqual(["acme"]);
    expect(readLockHolder(config.dataDir)?.startedAt).toBe(holder?.startedAt as string); // the same open throughout

    // While held, another command cannot open the data dir (it would corrupt it); once idle, it can.
    await expect(runOperation(config, "tenants.list")).rejects.toThrow(/is in use by/);
    await Bun.sleep(800);
    expect(session.holdsDataDir()).toBe(false);
    expect(readLockHolder(config.dataDir)).toBeUndefined();
    expect(((await runOperation(config, "tenants.list")) as unknown[]).length).toBe(1);

    // The next request reopens it; close releases it at once.
    expect(((await session.run("tenants.list")) as unknown[]).length).toBe(1);
    expect(session.holdsDataDir()).toBe(true);
  } finally {
    await session.close();
  }
  expect(readLockHolder(config.dataDir)).toBeUndefined();
});

test("PostgreSQL: each operation runs on its own connection and nothing is held", async () => {
  db = await createTestDb("postgres");
  const session = operatorSession(db.config, 300);
  try {
    await db.owner.query("select onboard_client('acme', 'Acme', 'ops@acme.com')");
    expect(((await session.run("tenants.list")) as { slug: string }[]).map((t) => t.slug)).toEqual(["acme"]);
    expect(((await session.run("migrate.status")) as { pending: number }).pending).toBe(0);
    expect(session.holdsDataDir()).toBe(false);
  } finally {
    await session.close();
  }
});
