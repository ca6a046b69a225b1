// Every wait on the database is bounded: /readyz's checks answer within their deadline however busy the pool
// is (on PostgreSQL from a connection of their own, still "ready"; on PGlite's single connection, "not ready"),
// and a transaction that cannot get a pooled connection gives up with database_unreachable instead of queueing
// forever, while the transaction that finally gets one late rolls back and leaves the pool healthy.
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres, type Engine } from "../../src/db/engine.ts";
import { engineReadiness } from "../../src/health/readiness.ts";
import { isAppError } from "../../src/errors.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { startDedicatedPostgres } from "../helpers/postgres-server.ts";

describeEngines("bounded database waits", (kind) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb(kind);
  });
  afterAll(() => db.dispose());

  test("/readyz checks answer within their deadline while every connection is busy", async () => {
    // Transactions held open for 2 s (PGlite's pg_sleep would block the whole thread, not just its connection).
    const hold = () =>
      db.app.transaction(async (tx) => {
        await tx.query("select 1");
        await Bun.sleep(2_000);
      });
    const busy = Array.from({ length: kind === "postgres" ? 4 : 1 }, hold);
    await Bun.sleep(200);
    const started = performance.now();
    const checks = await engineReadiness(db.app, { allowBypassRls: false, deadlineMs: 500 })();
    const elapsed = performance.now() - started;
    await Promise.all(busy);
    expect(elapsed).toBeLessThan(1_500);
    // PostgreSQL: the probe's own connection is free, so the database is ready; PGlite has one connection.
    if (kind === "postgres") expect(checks.every((c) => c.ok)).toBe(true);
    else expect(checks).toEqual([expect.objectContaining({ name: "database", ok: false })]);
    expect((await engineReadiness(db.app, { allowBypassRls: false })()).every((c) => c.ok)).toBe(true);
  });

  if (kind !== "postgres") return;

  test("a transaction that cannot get a pooled connection gives up with database_unreachable; the pool recovers", async () => {
    const engine: Engine = await openPostgres(parseDatabaseUrl(db.databaseUrl as string, "app"), 1, "bounded-test", {
      connectTimeoutMs: 2_000,
      acquireTimeoutMs: 300,
    });
    try {
      const holder = engine.transaction((tx) => tx.query("select pg_sleep(1.5)"));
      await Bun.sleep(100);
      const started = performance.now();
      const waiting = await engine
        .transaction((tx) =>
          tx.query("insert into organizations (id, slug, name) values (new_id('org'), 'late', 'Late') returning id"),
        )
        .catch((error: unknown) => error);
      expect(isAppError(waiting) && waiting.code).toBe("database_unreachable");
      expect(performance.now() - started).toBeLessThan(1_200);
      await holder;
      await Bun.sleep(100);
      // The abandoned transaction got the connection after the holder and rolled back: nothing was written.
      expect(await engine.query("select count(*)::int as n from organizations where slug = 'late'")).toEqual([
        { n: 0 },
      ]);
      expect(await engine.transaction((tx) => tx.query("select 1 as ok"))).toEqual([{ ok: 1 }]);
    } finally {
      await engine.close();
    }
  });
});

// postgres.js 3.4.9 wrote a transaction's next statement to a connection whose socket had closed: `socket.write`
// on null thrown out of setImmediate, and the connection left with a stale write timer, so it never sent its
// startup message again: that pool slot was dead for good (seen while PostgreSQL restarted under serve).
// scripts/patches/postgres@3.4.9.patch fails that statement instead and resets the connection's write state.
test("a transaction whose connection the server closed fails; the same pooled connection then works again [postgres]", async () => {
  const db = await createTestDb("postgres");
  // postgres.js itself (sql.begin), with one connection: the next query must reuse the closed one.
  const sql = postgres(db.databaseUrl as string, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const outcome = await sql
      .begin(async (t) => {
        const [row] = await t`select pg_backend_pid() as pid`;
        await db.owner.query("select pg_terminate_backend($1)", [row?.pid]);
        await Bun.sleep(200); // the transaction has failed by now; its code goes on to its next statement
        await t`select 1`;
      })
      .then(
        () => "committed",
        (e: Error) => e.message,
      );
    expect(outcome).toContain("CONNECTION_CLOSED");
    await Bun.sleep(300);
    // Unpatched: CONNECT_TIMEOUT here, and on every later attempt (the connection never wrote again).
    expect([...(await sql`select 1 as one`)]).toEqual([{ one: 1 }]);
  } finally {
    await sql.end({ timeout: 1 });
    await db.dispose();
  }
});

// The same for a reserved session (migrations, backups): releasing a connection the server had closed handed it
// back as open, and every later query on that pool slot failed with CONNECTION_CLOSED (patched as well).
test("a session whose connection the server closed fails; the pool's next queries work [postgres]", async () => {
  const db = await createTestDb("postgres");
  const engine = await openPostgres(parseDatabaseUrl(db.databaseUrl as string, "runtime"), 1);
  try {
    const outcome = await engine
      .session(async (conn) => {
        const [row] = await conn.query<{ pid: number }>("select pg_backend_pid() as pid");
        await db.owner.query("select pg_terminate_backend($1)", [row?.pid]);
        await Bun.sleep(200);
        await conn.query("select 1");
      })
      .then(
        () => "ran",
        (e: Error) => e.message,
      );
    expect(outcome).toContain("CONNECTION_CLOSED");
    for (let i = 0; i < 2; i++) expect(await engine.query<{ one: number }>("select 1 as one")).toEqual([{ one: 1 }]);
  } finally {
    await engine.close();
    await db.dispose();
  }
});

// A transaction's BEGIN travels with its first statement (src/db/engine.ts); when the database hangs before
// answering it, the caller gets database_unreachable within the acquire timeout, and the work, which has
// already been sent, never commits once the database answers again.
test("a transaction abandoned while the database hangs is rolled back when it answers again, never committed [postgres]", async () => {
  const pg = await startDedicatedPostgres();
  const admin = await openPostgres(parseDatabaseUrl(pg.superuserUrl(), "owner"), 1);
  const engine = await openPostgres(parseDatabaseUrl(pg.superuserUrl(), "runtime"), 2, "causeloop", {
    connectTimeoutMs: 2_000,
    acquireTimeoutMs: 1_000,
  });
  try {
    await admin.exec("create table notes (id int primary key)");
    await engine.query("select 1"); // a connection open and idle before the hang
    pg.freeze();
    let work: Promise<unknown> | undefined;
    const started = performance.now();
    const error = await engine
      .transaction(async (tx) => {
        work = tx.query("insert into notes values (1)");
        await work;
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const waited = performance.now() - started;
    pg.thaw();
    expect(isAppError(error) && error.code).toBe("database_unreachable");
    expect(waited).toBeLessThan(5_000);
    await work?.catch(() => {});
    await Bun.sleep(300); // the abandoned work's ROLLBACK
    expect(await admin.query("select id from notes")).toEqual([]);
    // and the pool goes on
    await engine.transaction((tx) => tx.query("insert into notes values (2)"));
    expect(await admin.query<{ id: number }>("select id from notes")).toEqual([{ id: 2 }]);
  } finally {
    pg.thaw();
    await engine.close();
    await admin.close();
    await pg.dispose();
  }
});
