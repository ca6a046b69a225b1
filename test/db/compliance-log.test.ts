// The compliance log is append-only evidence: no role (runtime, owner) may update, delete or truncate it; an
// erasure's pseudonym goes through its one function and changes nothing else; a tenant purge still removes
// it; retention-setting changes are recorded in it.
import { afterEach, expect, test } from "bun:test";
import { updateRetention } from "../../src/governance/retention.ts";
import { offboardClient, restore } from "../../src/tenancy/service.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant } from "../helpers/tenants.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

async function withEntry(d: TestDb, actor = "usr_someone"): Promise<{ ws: string; id: string }> {
  const { workspaceId: ws } = await createTenant(d.owner);
  const [row] = await withTenant(d.app, ws, (tx) =>
    tx.query<{ id: string }>(
      "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, new_id('cpl'), 'export.created', $2, '{\"export_id\":\"exp_1\"}') returning id",
      [ws, actor],
    ),
  );
  return { ws, id: row?.id as string };
}

describeEngines("compliance log", (kind) => {
  test("the runtime role and the owner can neither update, delete nor truncate it", async () => {
    db = await createTestDb(kind);
    const { ws } = await withEntry(db);
    const d = db;
    for (const statement of [
      "update compliance_log set kind = 'retention.run'",
      "update compliance_log set actor_id = 'erased:0000000000000000'",
      "delete from compliance_log",
    ]) {
      await expect(withTenant(d.app, ws, (tx) => tx.query(statement))).rejects.toThrow(/append-only/);
      await expect(d.owner.query(`${statement} where workspace_id = $1`, [ws])).rejects.toThrow(/append-only/);
    }
    await expect(d.owner.query("truncate compliance_log")).rejects.toThrow(/append-only/);
    const rows = await d.owner.query<{ n: number }>(
      "select count(*)::int as n from compliance_log where workspace_id = $1",
      [ws],
    );
    expect(rows[0]?.n).toBe(1);
  });

  test("an erasure's pseudonym goes through compliance_log_pseudonymize and changes only the actor", async () => {
    db = await createTestDb(kind);
    const { ws, id } = await withEntry(db, "usr_erased_person");
    const changed = await withTenant(db.app, ws, (tx) =>
      tx.query<{ n: number }>(
        "select compliance_log_pseudonymize($1, 'usr_erased_person', 'erased:abcdef0123456789') as n",
        [ws],
      ),
    );
    expect(changed[0]?.n).toBe(1);
    const [row] = await db.owner.query<{ actor_id: string; kind: string; details: unknown }>(
      "select actor_id, kind, details from compliance_log where workspace_id = $1 and id = $2",
      [ws, id],
    );
    expect(row).toEqual({
      actor_id: "erased:abcdef0123456789",
      kind: "export.created",
      details: { export_id: "exp_1" },
    });
    // Not a way to rewrite the log with any value.
    const d = db;
    await expect(
      withTenant(d.app, ws, (tx) =>
        tx.query("select compliance_log_pseudonymize($1, 'erased:abcdef0123456789', 'usr_x')", [ws]),
      ),
    ).rejects.toThrow(/erased:/);
  });

  test("a retention change is recorded; a tenant purge still removes the tenant's log", async () => {
    db = await createTestDb(kind);
    const { ws } = await withEntry(db);
    await withTenant(db.app, ws, (tx) =>
      updateRetention(
        tx,
        { workspaceId: ws, actorId: "usr_admin", actorType: "user", context: {} },
        { issue_retention_days: 30 },
      ),
    );
    const [changed] = await db.owner.query<{ actor_id: string; details: { after: Record<string, number> } }>(
      "select actor_id, details from compliance_log where workspace_id = $1 and kind = 'retention.changed'",
      [ws],
    );
    expect(changed?.actor_id).toBe("usr_admin");
    expect(changed?.details.after.issue_retention_days).toBe(30);
    const [org] = await db.owner.query<{ slug: string }>(
      "select o.slug from organizations o join workspaces w on w.organization_id = o.id where w.id = $1",
      [ws],
    );
    await db.owner.query("select offboard_client($1, 'purge')", [org?.slug]);
    const left = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from compliance_log where workspace_id = $1",
      [ws],
    );
    expect(left[0]?.n).toBe(0);
  });

  test("a soft offboarding and a restore are in the tenant's compliance log", async () => {
    db = await createTestDb(kind);
    const { workspaceId: ws, slug } = await createTenant(db.owner);
    await offboardClient(db.owner, slug, "soft", "operator:alice", () => Promise.reject(new Error("not needed")));
    await restore(db.owner, slug, "operator:alice");
    const rows = await db.owner.query<{ actor_id: string; details: { mode: string } }>(
      "select actor_id, details from compliance_log where workspace_id = $1 and kind = 'offboarding' order by created_at, id",
      [ws],
    );
    expect(rows.map((r) => [r.actor_id, r.details.mode])).toEqual([
      ["operator:alice", "soft"],
      ["operator:alice", "restore"],
    ]);
  });
});
