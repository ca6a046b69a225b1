// The drizzle mirror matches the migrated database exactly, on both engines, and the check notices drift.
import { afterEach, expect, test } from "bun:test";
import { schemaDrift } from "../helpers/drift.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

describeEngines("schema drift", (kind) => {
  test("the drizzle schema matches every table, column, type, nullability and default", async () => {
    db = await createTestDb(kind);
    expect(await schemaDrift(db.owner)).toEqual([]);
  });

  test("a column added, a nullability or default changed, or a table added is reported", async () => {
    db = await createTestDb(kind);
    await db.owner.exec(`
      ALTER TABLE issues ADD COLUMN extra text;
      ALTER TABLE issues ALTER COLUMN body DROP NOT NULL;
      ALTER TABLE patterns ALTER COLUMN status SET DEFAULT 'candidate';
      ALTER TABLE webhooks ALTER COLUMN failure_count TYPE bigint;
      CREATE TABLE unmirrored (id text PRIMARY KEY);`);
    const drift = await schemaDrift(db.owner);
    expect(drift).toContain("issues.extra is in the database but not in the drizzle schema");
    expect(drift.some((d) => d.startsWith("issues.body nullability"))).toBe(true);
    expect(drift.some((d) => d.startsWith("patterns.status default"))).toBe(true);
    expect(drift.some((d) => d.startsWith("webhooks.failure_count type"))).toBe(true);
    expect(drift).toContain("table unmirrored is in the database but not in the drizzle schema");
  });
});
