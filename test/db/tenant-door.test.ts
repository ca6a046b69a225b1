// The tenant door and RLS: inside workspace A nothing of B is visible, outside the door nothing at all,
// and no setting leaks between pooled transactions.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withTenant, withoutTenant } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant, insertIssue, type TestTenant } from "../helpers/tenants.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { parseDatabaseUrl } from "../../src/config.ts";

describeEngines("tenant door", (kind) => {
  let db: TestDb;
  let a: TestTenant;
  let b: TestTenant;
  beforeAll(async () => {
    db = await createTestDb(kind);
    a = await createTenant(db.owner);
    b = await createTenant(db.owner);
    for (let i = 0; i < 5; i++) {
      await insertIssue(db.owner, a.workspaceId, `a-${i}`);
      await insertIssue(db.owner, b.workspaceId, `b-${i}`);
    }
  });
  afterAll(() => db.dispose());

  test("inside workspace A only A's rows are visible, including the workspace and organization", async () => {
    const seen = await withTenant(db.app, a.workspaceId, async (tx) => ({
      issues: await tx.query<{ workspace_id: string }>("select workspace_id from issues"),
      workspaces: await tx.query<{ id: string }>("select id from workspaces"),
      orgs: await tx.query<{ id: string }>("select id from organizations"),
      role: await tx.query<{ u: string }>("select current_user as u"),
    }));
    expect(seen.issues.length).toBe(5);
    expect(seen.issues.every((r) => r.workspace_id === a.workspaceId)).toBe(true);
    expect(seen.workspaces.map((w) => w.id)).toEqual([a.workspaceId]);
    expect(seen.orgs.map((o) => o.id)).toEqual([a.organizationId]);
    expect(seen.role[0]?.u).toBe("causeloop_app");
  });

  test("an operator's door over the owner connection runs as causeloop_app under RLS too", async () => {
    const seen = await withTenant(db.owner, a.workspaceId, async (tx) => ({
      role: await tx.query<{ u: string }>("select current_user as u"),
      issues: await tx.query<{ workspace_id: string }>("select workspace_id from issues"),
      bRows: await tx.query<{ n: number }>("select count(*)::int as n from issues where workspace_id = $1", [
        b.workspaceId,
      ]),
    }));
    expect(seen.role[0]?.u).toBe("causeloop_app");
    expect(seen.issues.length).toBe(5);
    expect(seen.bRows[0]?.n).toBe(0);
    // Outside the door the owner is itself again (the switch was transaction-local).
    expect((await db.owner.query<{ u: string }>("select current_user as u"))[0]?.u).not.toBe("causeloop_app");
  });

  test("a cross-workspace read by id returns nothing and a write is refused", async () => {
    const bIssue = (
      await db.owner.query<{ id: string }>("select id from issues where workspace_id = $1 limit 1", [b.workspaceId])
    )[0]?.id;
    const rows = await withTenant(db.app, a.workspaceId, (tx) =>
      tx.query("select * from issues where id = $1", [bIssue]),
    );
    expect(rows).toEqual([]);
    const updated = await withTenant(db.app, a.workspaceId, (tx) =>
      tx.query("update issues set title = 'x' where workspace_id = $1 returning id", [b.workspaceId]),
    );
    expect(updated).toEqual([]);
    expect(
      withTenant(db.app, a.workspaceId, (tx) =>
        tx.query("insert into issues (workspace_id, id, title) values ($1, new_id('iss'), 'intrusion')", [
          b.workspaceId,
        ]),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  test("outside the door the runtime role sees zero tenant rows", async () => {
    const counts = await withoutTenant(db.app, async (tx) => ({
      issues: await tx.query<{ n: number }>("select count(*)::int as n from issues"),
      workspaces: await tx.query<{ n: number }>("select count(*)::int as n from workspaces"),
      users: await tx.query<{ n: number }>("select count(*)::int as n from users"),
      orgs: await tx.query<{ n: number }>("select count(*)::int as n from organizations"),
    }));
    expect([counts.issues[0]?.n, counts.workspaces[0]?.n, counts.users[0]?.n, counts.orgs[0]?.n]).toEqual([0, 0, 0, 0]);
  });

  test("the setting is transaction-local: it does not survive a commit or a rollback", async () => {
    await withTenant(db.app, a.workspaceId, async () => {});
    expect(
      withTenant(db.app, a.workspaceId, async () => {
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    const after = await withoutTenant(db.app, (tx) =>
      tx.query<{ s: string | null; n: number }>(
        "select current_setting('app.current_workspace', true) as s, (select count(*)::int from issues) as n",
      ),
    );
    expect(after[0]?.n).toBe(0);
    expect(after[0]?.s ?? "").toBe("");
  });

  test("many interleaved transactions of two workspaces over a small pool never see each other's rows", async () => {
    const pool =
      db.kind === "postgres" ? await openPostgres(parseDatabaseUrl(db.databaseUrl as string, "app"), 3) : db.app;
    try {
      const leaks: string[] = [];
      const work = Array.from({ length: 60 }, (_, i) => {
        const mine = i % 2 === 0 ? a : b;
        return withTenant(pool, mine.workspaceId, async (tx) => {
          const first = await tx.query<{ workspace_id: string }>("select workspace_id from issues");
          await Bun.sleep(Math.random() * 5);
          const second = await tx.query<{ workspace_id: string }>("select workspace_id from issues");
          for (const row of [...first, ...second])
            if (row.workspace_id !== mine.workspaceId) leaks.push(row.workspace_id);
          if (first.length !== 5 || second.length !== 5) leaks.push(`count ${first.length}/${second.length}`);
        });
      });
      await Promise.all(work);
      expect(leaks).toEqual([]);
    } finally {
      if (pool !== db.app) await pool.close();
    }
  });

  test("an empty, unknown or malformed workspace id sees nothing", async () => {
    const unknown = await withTenant(db.app, "ws_00000000000000000000000000", (tx) => tx.query("select * from issues"));
    expect(unknown).toEqual([]);
    expect(withTenant(db.app, "", async () => 1)).rejects.toThrow("workspace not found");
    expect(withTenant(db.app, "x' or '1'='1", async () => 1)).rejects.toThrow("workspace not found");
  });
});
