// The embedded engine installs PGlite's array parsers and serializers from a list kept in the source
// (src/db/pglite-array-types.ts) instead of asking the catalog on every start. What a user would notice if the
// list were wrong: an array parameter sent as "a,b" instead of {a,b} (a filter with = ANY($1) that matches
// nothing), or an array column read back as the string "{...}". The list is checked against the catalog of a
// migrated database, so an upgraded PGlite whose catalog differs fails here with the new list to paste.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_ARRAY_TYPES } from "../../src/db/pglite-array-types.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describe("the embedded engine's array types", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("pglite");
  });
  afterAll(() => db.dispose());

  test("the list is the catalog's answer for the built-in types, and the schema adds no type sent as an array", async () => {
    const rows = await db.owner.query<{ oid: number; typarray: number; typtype: string }>(
      `SELECT b.oid, b.typarray, b.typtype FROM pg_catalog.pg_type a
         LEFT JOIN pg_catalog.pg_type b ON b.oid = a.typelem
        WHERE a.typcategory = 'A' GROUP BY b.oid, b.typarray, b.typtype ORDER BY b.oid`,
    );
    // FirstNormalObjectId: below it, the types initdb made; above it, the ones the migrations made.
    const builtin = rows.filter((r) => r.oid < 16384).flatMap((r) => [r.oid, r.typarray]);
    if (JSON.stringify(builtin) !== JSON.stringify(BUILTIN_ARRAY_TYPES))
      console.error(`PGlite's built-in array types changed; the new list:\n${builtin.join(", ")}`);
    expect(builtin).toEqual([...BUILTIN_ARRAY_TYPES]);
    // The tables' own row types have array types too; nothing sends or reads those. Any other type a migration
    // adds (an enum, a domain) needs its array type installed: it would show up here.
    const added = rows.filter((r) => r.oid >= 16384 && r.typtype !== "c");
    expect(added).toEqual([]);
  });
});

describeEngines("array parameters and results", (kind) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb(kind);
  });
  afterAll(() => db.dispose());

  test("array parameters of the kinds the code sends (text[], int[]) go in as arrays", async () => {
    const [row] = await db.owner.query<{ texts: number; ints: number }>(
      "SELECT array_length($1::text[], 1) AS texts, array_length($2::int[], 1) AS ints",
      [
        ["a", "b,c", 'd"e', "{x}"],
        [1, 2, 3],
      ],
    );
    expect(row).toEqual({ texts: 4, ints: 3 });
  });

  test("array columns come back as arrays of their element type", async () => {
    const [row] = await db.owner.query<Record<string, unknown>>(
      `SELECT ARRAY['a', 'b,c', 'd"e', '{x}'] AS texts, ARRAY[1, 2, 3] AS ints,
              ARRAY['0b3e9f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b'::uuid] AS ids, ARRAY['{"k":[1,"two"]}'::jsonb] AS docs,
              ARRAY['2026-12-08T03:04:05.678Z'::timestamptz] AS ats, ARRAY[true, false] AS flags`,
    );
    expect(row?.texts).toEqual(["a", "b,c", 'd"e', "{x}"]);
    expect(row?.ints).toEqual([1, 2, 3]);
    expect(row?.ids).toEqual(["0b3e9f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"]);
    expect(row?.docs).toEqual([{ k: [1, "two"] }]);
    expect(((row?.ats ?? []) as Date[]).map((d) => new Date(d).toISOString())).toEqual(["2026-12-08T03:04:05.678Z"]);
    expect(row?.flags).toEqual([true, false]);
  });

  test("a filter on = ANY($1) matches the rows it names", async () => {
    const rows = await db.owner.query<{ n: number }>(
      "SELECT n FROM generate_series(1, 10) AS n WHERE n::text = ANY($1) ORDER BY n",
      [["2", "5", "11"]],
    );
    expect(rows.map((r) => r.n)).toEqual([2, 5]);
  });
});
