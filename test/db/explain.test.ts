// A database refusal reaches the operator whole, in one line: PostgreSQL's message, detail and hint, the
// SQLSTATE, and the fix when we know it (here: the runtime role trying to change a role, as a non-superuser
// owner would).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { explainDatabaseError } from "../../src/db/explain.ts";
import { withoutTenant } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

test("message, detail, hint, SQLSTATE and the known fix, on one line", () => {
  const line = explainDatabaseError({
    code: "42501",
    message: "permission denied to alter role",
    detail:
      'Only roles with the CREATEROLE attribute and the ADMIN option on role "causeloop_app" may alter this role.',
    hint: "ask an administrator",
  });
  expect(line).toBe(
    'PostgreSQL: permission denied to alter role; Only roles with the CREATEROLE attribute and the ADMIN option on role "causeloop_app" may alter this role.; hint: ask an administrator (SQLSTATE 42501). The owner connection (DATABASE_OWNER_URL) needs CREATEROLE, and on PostgreSQL 16 the ADMIN OPTION on causeloop_app (GRANT causeloop_app TO <owner> WITH ADMIN OPTION), or a superuser',
  );
  expect(explainDatabaseError(new Error("not a database error"))).toBeUndefined();
  expect(explainDatabaseError(undefined)).toBeUndefined();
});

describeEngines("database refusals", (kind) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb(kind);
  });
  afterAll(() => db.dispose());

  test("a real refusal keeps PostgreSQL's own words", async () => {
    const error = await withoutTenant(db.app, (tx) => tx.query("alter role causeloop_app connection limit 5")).catch(
      (e: unknown) => e,
    );
    const line = explainDatabaseError(error) ?? "";
    expect(line).toStartWith("PostgreSQL: permission denied");
    expect(line).toContain("(SQLSTATE 42501)");
    expect(line).toContain("CREATEROLE");
    expect(line).not.toContain("\n");
  });
});
