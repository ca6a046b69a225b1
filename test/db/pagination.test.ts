// Keyset pages never skip a row: rows created within the same millisecond (PostgreSQL keeps microseconds)
// are all listed across pages, for issues and the compliance log, on both engines.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withTenant } from "../../src/db/tenant.ts";
import { listIssues } from "../../src/issues/service.ts";
import { listComplianceLog } from "../../src/governance/compliance.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant, type TestTenant } from "../helpers/tenants.ts";

describeEngines("keyset pagination", (kind) => {
  let db: TestDb;
  let t: TestTenant;
  beforeAll(async () => {
    db = await createTestDb(kind);
    t = await createTenant(db.owner);
    for (const us of [100, 200, 300, 400, 900]) {
      await db.owner.query(
        `insert into issues (workspace_id, id, title, created_at) values ($1, new_id('iss'), $2, '2026-01-01T00:00:00.000${us}Z'::timestamptz)`,
        [t.workspaceId, `issue ${us}`],
      );
      await db.owner.query(
        `insert into compliance_log (workspace_id, id, kind, details, created_at) values ($1, new_id('cpl'), 'retention.run', '{}'::jsonb, '2026-01-01T00:00:00.000${us}Z'::timestamptz)`,
        [t.workspaceId],
      );
    }
  });
  afterAll(() => db.dispose());

  test("five rows in one millisecond, one per page: every row is listed once", async () => {
    const walk = async <T extends { id: string }>(
      page: (cursor?: string) => Promise<{ data: T[]; next_cursor: string | null }>,
    ) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const result = await page(cursor);
        seen.push(...result.data.map((r) => r.id));
        if (!result.next_cursor) break;
        cursor = result.next_cursor;
      }
      return seen;
    };
    const issues = await walk((cursor) =>
      withTenant(db.app, t.workspaceId, (tx) => listIssues(tx, t.workspaceId, { limit: 1, cursor })),
    );
    expect(new Set(issues).size).toBe(5);
    expect(issues).toHaveLength(5);
    const log = await walk((cursor) =>
      withTenant(db.app, t.workspaceId, (tx) => listComplianceLog(tx, t.workspaceId, { limit: 1, cursor })),
    );
    expect(new Set(log).size).toBe(5);
  });
});
