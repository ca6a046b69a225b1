// `causeloop doctor` is catalog-driven: it passes on a migrated database and names any table that lost RLS.
import { afterEach, expect, test } from "bun:test";
import { doctor } from "../../src/db/system.ts";
import { APP_ROLE } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

const run = (d: TestDb) =>
  doctor(d.app, { engineName: d.kind, runtimeRole: d.kind === "pglite" ? APP_ROLE : "current_user" });
const failing = (report: Awaited<ReturnType<typeof run>>) => report.checks.filter((c) => !c.ok);

describeEngines("doctor", (kind) => {
  test("passes on a migrated database and counts every tenant table as protected", async () => {
    db = await createTestDb(kind);
    const report = await run(db);
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
    const tables = await db.owner.query<{ n: number }>(
      "select count(distinct table_name)::int as n from information_schema.columns where table_schema = current_schema() and column_name = 'workspace_id'",
    );
    expect(report.tenantTables).toBe((tables[0]?.n ?? 0) + 1); // + the tenant root, workspaces
    expect(report.protectedTables).toBe(report.tenantTables);
  });

  test("fails naming the table when FORCE is turned off", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("ALTER TABLE patterns NO FORCE ROW LEVEL SECURITY");
    const report = await run(db);
    expect(report.ok).toBe(false);
    expect(failing(report).find((c) => c.name === "table patterns")?.detail).toContain("not forced");
  });

  test("fails naming the table when a policy is dropped", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("DROP POLICY tenant_delete ON webhooks");
    const report = await run(db);
    expect(failing(report).find((c) => c.name === "table webhooks")?.detail).toContain("no delete policy");
  });

  test("fails on a permissive extra policy and on a new table nobody protected", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("CREATE POLICY leak ON issues FOR SELECT USING (true)");
    await db.owner.exec(
      "CREATE TABLE incidents_notes (workspace_id text NOT NULL, id text NOT NULL, PRIMARY KEY (workspace_id, id))",
    );
    await db.owner.exec("CREATE TABLE stray (id text PRIMARY KEY)");
    const names = failing(await run(db)).map((c) => `${c.name}: ${c.detail}`);
    expect(names.some((n) => n.startsWith("table issues:") && n.includes("select policy does not restrict"))).toBe(
      true,
    );
    expect(names.some((n) => n.startsWith("table incidents_notes:") && n.includes("not enabled"))).toBe(true);
    expect(names.some((n) => n.startsWith("table stray:") && n.includes("global list"))).toBe(true);
  });

  test("fails when a global table with tenants' people loses RLS", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("ALTER TABLE users NO FORCE ROW LEVEL SECURITY");
    expect(failing(await run(db)).map((c) => c.name)).toContain("table users");
  });

  test("fails when the audit trigger is disabled", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
    expect(failing(await run(db)).map((c) => c.name)).toContain("audit_log append-only trigger");
  });

  test("fails when the operator log's trigger is disabled or the runtime role may read it", async () => {
    db = await createTestDb(kind);
    await db.owner.exec("ALTER TABLE operator_log DISABLE TRIGGER operator_log_append_only");
    await db.owner.exec("GRANT SELECT ON operator_log TO causeloop_app");
    const failed = failing(await run(db));
    expect(failed.map((c) => c.name)).toEqual(
      expect.arrayContaining(["operator_log append-only trigger", "operator_log hidden from the runtime role"]),
    );
    expect(failed.find((c) => c.name === "operator_log hidden from the runtime role")?.detail).toContain("SELECT");
  });
});
