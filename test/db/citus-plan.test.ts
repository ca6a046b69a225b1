// docs/citus-plan.sql is the plan the live schema gives (regenerate with `bun scripts/citus-plan.ts`): every
// tenant table distributed by workspace_id beside the tenant root, every global table a reference table.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { citusPlan } from "../../src/db/citus-plan.ts";
import { GLOBAL_TABLES } from "../../src/db/system.ts";
import { tenantTables } from "../../src/security/canary.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

describeEngines("Citus plan", (kind) => {
  test("docs/citus-plan.sql matches the migrated catalog, table for table", async () => {
    db = await createTestDb(kind);
    const plan = await citusPlan(db.owner);
    const checkedIn = await Bun.file(join(import.meta.dir, "..", "..", "docs", "citus-plan.sql")).text();
    expect(plan.sql).toBe(checkedIn);
    expect([...plan.reference].sort()).toEqual([...GLOBAL_TABLES].sort());
    const distributed = plan.distributed.map((d) => d.table);
    for (const name of await tenantTables(db.owner))
      if (!(GLOBAL_TABLES as readonly string[]).includes(name)) expect(distributed).toContain(name);
    expect(distributed).toContain("workspaces");
    expect(new Set(distributed).size).toBe(distributed.length);
  });
});
