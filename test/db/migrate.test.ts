// Migrations: forward-only, recorded with checksums, idempotent, refusing edited files, serialized by a lock.
import { afterEach, expect, test } from "bun:test";
import { migrations } from "../../db/migrations/index.ts";
import { migrate, migrationStatus, sha256Hex } from "../../src/db/migrate.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

describeEngines("migrate", (kind) => {
  test("a fresh database gets every migration once; a second run applies nothing", async () => {
    db = await createTestDb(kind, { migrated: false });
    const first = await migrate(db.owner);
    expect(first.applied.map((a) => a.name)).toEqual(migrations.map((m) => m.name));
    const second = await migrate(db.owner);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toBe(migrations.length);
    const ledger = await db.owner.query<{ name: string; sha256: string; duration_ms: number }>(
      "select name, sha256, duration_ms from schema_migrations order by name",
    );
    expect(ledger.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
    expect(ledger[0]?.sha256).toBe(sha256Hex(migrations[0]?.sql ?? ""));
    const catalogue = await db.owner.query<{ n: number }>("select count(*)::int as n from connector_catalogue");
    expect(catalogue[0]?.n).toBeGreaterThanOrEqual(17);
  });

  test("an edited applied migration stops the run, naming the file", async () => {
    db = await createTestDb(kind);
    const edited = migrations.map((m, i) => (i === 2 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    expect(migrate(db.owner, { sources: edited })).rejects.toThrow(/0003_product_core was changed/);
    const status = await migrationStatus(db.owner, edited);
    expect(status.find((s) => s.name === "0003_product_core")?.state).toBe("changed");
  });

  test("an applied migration missing from the binary stops the run", async () => {
    db = await createTestDb(kind);
    const last = migrations.at(-1)?.name as string;
    expect(migrate(db.owner, { sources: migrations.slice(0, -1) })).rejects.toThrow(new RegExp(`${last} is missing`));
  });

  test("a failing migration leaves nothing half-applied and is not recorded", async () => {
    db = await createTestDb(kind);
    const broken = [
      ...migrations,
      { name: "0099_broken", sql: "CREATE TABLE half_done (id text);\nSELECT * FROM no_such_table;" },
    ];
    expect(migrate(db.owner, { sources: broken })).rejects.toThrow(/0099_broken failed/);
    const table = await db.owner.query<{ t: string | null }>("select to_regclass('half_done')::text as t");
    expect(table[0]?.t).toBeNull();
    const status = await migrationStatus(db.owner, broken);
    expect(status.find((s) => s.name === "0099_broken")?.state).toBe("pending");
  });

  test("a no-transaction migration runs outside a transaction (CREATE INDEX CONCURRENTLY)", async () => {
    db = await createTestDb(kind);
    const sql =
      "-- causeloop:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS issues_ws_title_idx ON issues (workspace_id, title);\n";
    const result = await migrate(db.owner, { sources: [...migrations, { name: "0100_concurrent_index", sql }] });
    expect(result.applied.map((a) => a.name)).toEqual(["0100_concurrent_index"]);
    const idx = await db.owner.query<{ t: string | null }>("select to_regclass('issues_ws_title_idx')::text as t");
    expect(idx[0]?.t).toBe("issues_ws_title_idx");
  });
});

test("two concurrent migrate runs on PostgreSQL both succeed and apply each file once", async () => {
  db = await createTestDb("postgres", { migrated: false });
  const other = await openPostgres(parseDatabaseUrl(db.ownerUrl as string, "owner"), 2);
  try {
    const [a, b] = await Promise.all([migrate(db.owner), migrate(other)]);
    const names = [...a.applied, ...b.applied].map((x) => x.name).sort();
    expect(names).toEqual(migrations.map((m) => m.name));
    const ledger = await db.owner.query<{ n: number }>("select count(*)::int as n from schema_migrations");
    expect(ledger[0]?.n).toBe(migrations.length);
  } finally {
    await other.close();
  }
});
