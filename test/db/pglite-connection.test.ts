// The embedded engine's statements and transactions (src/db/pglite-prepared.ts): prepared once per text, one
// call into PGlite per statement, BEGIN with the first statement. What a user would notice if it were wrong:
// rows that differ from PGlite's own query(), a write that survives its failed transaction, a statement that
// keeps failing after a migration changed a table, or a plan that ignores Row-Level Security because it was
// prepared under another role. PGlite only: on PostgreSQL, postgres.js prepares (test/db/hot-path.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PGlite } from "@electric-sql/pglite";
import { PgliteConnection } from "../../src/db/pglite-prepared.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { createTenant, insertIssue, type TestTenant } from "../helpers/tenants.ts";

describe("PGlite statements, prepared", () => {
  let pg: PGlite;
  let connection: PgliteConnection;
  beforeAll(async () => {
    pg = await PGlite.create();
    connection = new PgliteConnection(pg);
    await pg.exec(`create table notes (id int primary key, body text not null);
      create table kinds (id int primary key, n int8, amount numeric, ok boolean, at timestamptz, day date,
        doc jsonb, raw json, tags text[], nums int[], bytes bytea, uid uuid, note text);
      insert into kinds values
        (1, 9007199254740993, 12.50, true, '2026-12-07T10:00:00.123Z', '2026-12-07', '{"a":[1,2]}', '{"b":null}',
         '{x,"y z"}', '{1,2,3}', '\\x00ff', '0b3e9f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b', null),
        (2, null, null, null, null, null, null, null, null, null, null, null, 'two')`);
  });
  afterAll(() => pg.close());

  test("rows are the same as PGlite's own query() returns, for every kind of column and parameter", async () => {
    const texts: [string, unknown[]][] = [
      ["select * from kinds order by id", []],
      ["select * from kinds where id = $1", [1]],
      [
        "select $1::jsonb as doc, $2::timestamptz as at, $3::text[] as tags, $4::int8 as n",
        [
          { nested: { list: [1, "two"] } },
          new Date("2026-01-02T03:04:05.678Z"),
          ["a", "b,c", 'd"e'],
          "9007199254740993",
        ],
      ],
      ["select count(*) from kinds where note is null or note = $1", [null]],
    ];
    for (const [text, params] of texts) {
      const theirs = await pg.query(text, params);
      // Twice: prepared on the first call, the cached statement on the second.
      for (let i = 0; i < 2; i++) {
        const ours = await connection.query(text, params);
        expect(ours.rows).toEqual(theirs.rows);
        expect(ours.fields).toEqual(theirs.fields);
      }
    }
    const inserted = await connection.query("insert into notes values ($1, $2), ($3, $4)", [1, "a", 2, "b"]);
    expect(inserted.affectedRows).toBe(2);
    await connection.query("delete from notes");
  });

  test("a transaction commits all of its statements, or none when one fails", async () => {
    await connection.transaction(async (tx) => {
      await tx.query("insert into notes values ($1, $2)", [10, "kept"]);
      await tx.exec("insert into notes values (11, 'kept too')");
    });
    await expect(
      connection.transaction(async (tx) => {
        await tx.query("insert into notes values ($1, $2)", [12, "lost"]);
        await tx.query("insert into notes values ($1, $2)", [10, "duplicate key"]);
      }),
    ).rejects.toMatchObject({ code: "23505" });
    // A failure caught inside the transaction cannot be committed over: the caller is told, nothing is kept.
    await expect(
      connection.transaction(async (tx) => {
        await tx.query("insert into notes values ($1, $2)", [13, "lost"]);
        await tx.query("select 1/0").catch(() => undefined);
      }),
    ).rejects.toMatchObject({ code: "25P02" });
    const rows = (await connection.query<{ id: number }>("select id from notes order by id")).rows;
    expect(rows.map((r) => r.id)).toEqual([10, 11]);
    // Statements of one transaction see one transaction; after it, its handle is closed.
    let leaked: { query(text: string): Promise<unknown> } | undefined;
    const ids = await connection.transaction(async (tx) => {
      leaked = tx;
      const first = await tx.query<{ x: string }>("select txid_current()::text as x");
      const second = await tx.query<{ x: string }>("select txid_current()::text as x");
      return [first.rows[0]?.x, second.rows[0]?.x];
    });
    expect(ids[0]).toBe(ids[1] as string);
    await expect(leaked?.query("select 1")).rejects.toThrow("Transaction is closed");
    await connection.query("delete from notes");
  });

  test("a statement whose table changed under it works at once, first in its transaction or alone", async () => {
    await pg.exec("create table shifting (id int primary key, a text); insert into shifting values (1, 'one')");
    const text = "select * from shifting";
    expect((await connection.query(text)).rows).toEqual([{ id: 1, a: "one" }]);
    await connection.transaction((tx) => tx.query(text));
    await pg.exec("alter table shifting add column b text default 'new'");
    expect((await connection.query(text)).rows).toEqual([{ id: 1, a: "one", b: "new" }]);
    await pg.exec("alter table shifting add column c int default 3");
    const inTx = await connection.transaction(async (tx) => {
      const rows = (await tx.query(text)).rows;
      await tx.query("insert into shifting (id, a) values ($1, $2)", [2, "two"]);
      return rows;
    });
    expect(inTx).toEqual([{ id: 1, a: "one", b: "new", c: 3 }]);
    expect((await pg.query("select count(*)::int as n from shifting")).rows).toEqual([{ n: 2 }]);
  });

  test("statements beyond the cache are closed, not kept: the connection holds a bounded number", async () => {
    for (let i = 0; i < 400; i++) await connection.query(`select ${i} as n`);
    await connection.query("select 1");
    const held = (await pg.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements")).rows[0];
    expect(held?.n).toBeLessThanOrEqual(256);
    expect(held?.n).toBeGreaterThan(200);
    expect((await connection.query<{ n: number }>("select 5 as n")).rows).toEqual([{ n: 5 }]);
  });
});

describe("the embedded engine's prepared statements under Row-Level Security", () => {
  let db: TestDb;
  let a: TestTenant;
  let b: TestTenant;
  beforeAll(async () => {
    db = await createTestDb("pglite");
    a = await createTenant(db.owner);
    b = await createTenant(db.owner);
    await insertIssue(db.owner, a.workspaceId, "a-1");
    await insertIssue(db.owner, b.workspaceId, "b-1");
  });
  afterAll(() => db.dispose());

  test("one statement text prepared as the owner still obeys RLS inside the door, and the reverse", async () => {
    const text = "select workspace_id from issues order by workspace_id";
    // Planned first as the owner (no RLS for it on a plain query), then run inside each workspace's door.
    expect((await db.app.query<{ workspace_id: string }>(text)).length).toBe(2);
    for (const tenant of [a, b, a]) {
      const rows = await withTenant(db.app, tenant.workspaceId, (tx) => tx.query<{ workspace_id: string }>(text));
      expect(rows.map((r) => r.workspace_id)).toEqual([tenant.workspaceId]);
    }
    expect((await db.app.query<{ workspace_id: string }>(text)).length).toBe(2);
  });
});
