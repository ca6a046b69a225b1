// The isolation proof a SOC 2 auditor asks for: for EVERY tenant table (enumerated from the database),
// with rows in two workspaces, the runtime role inside A sees only A, cannot write B, and with no, an empty
// or an unknown workspace sees nothing. And the suite notices when one table loses its policy.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withTenant, withoutTenant } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant, type TestTenant } from "../helpers/tenants.ts";
import { isolationViolations, seedEveryTenantTable, tenantTables } from "../helpers/isolation.ts";

describeEngines("isolation", (kind) => {
  let db: TestDb;
  let a: TestTenant;
  let b: TestTenant;
  beforeAll(async () => {
    db = await createTestDb(kind);
    a = await createTenant(db.owner);
    b = await createTenant(db.owner);
    await seedEveryTenantTable(db.owner, a.workspaceId);
    await seedEveryTenantTable(db.owner, b.workspaceId);
  });
  afterAll(() => db.dispose());

  test("every tenant table is isolated", async () => {
    const tables = await tenantTables(db.owner);
    expect(tables.length).toBeGreaterThanOrEqual(24);
    const found: string[] = [];
    for (const table of tables) {
      for (const v of await isolationViolations(db.app, db.owner, table, a.workspaceId, b.workspaceId)) found.push(`${table}: ${v}`);
    }
    expect(found).toEqual([]);
  });

  test("the tenant root shows only the current workspace, and nothing outside the door", async () => {
    expect(await withTenant(db.app, a.workspaceId, (tx) => tx.query<{ id: string }>("select id from workspaces"))).toEqual([{ id: a.workspaceId }]);
    expect(await withoutTenant(db.app, (tx) => tx.query("select id from workspaces"))).toEqual([]);
  });

  test("the suite fails when one table loses its policy or its RLS", async () => {
    await db.owner.exec("DROP POLICY tenant_select ON patterns; CREATE POLICY leak ON patterns FOR SELECT USING (true);");
    const leaked = await isolationViolations(db.app, db.owner, "patterns", a.workspaceId, b.workspaceId);
    expect(leaked).toContain("inside A, rows of another workspace are visible");
    await db.owner.exec("ALTER TABLE issues NO FORCE ROW LEVEL SECURITY; ALTER TABLE issues DISABLE ROW LEVEL SECURITY;");
    const open = await isolationViolations(db.app, db.owner, "issues", a.workspaceId, b.workspaceId);
    expect(open.length).toBeGreaterThan(0);
  });
});
