// Tenant lifecycle on both engines: onboarding, duplicate slugs, workspaces, soft offboarding and restore
// seen through the API, and a purge that leaves no row of the tenant anywhere but the offboarding record.
import { afterEach, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import {
  addWorkspace,
  listTenants,
  offboard,
  offboardingRecords,
  onboard,
  restore,
} from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { seedWorkspaces } from "../helpers/seed.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

function api(d: TestDb) {
  const app = createApp({
    logger: silentLogger,
    readiness: async () => [],
    version: "test",
    bodyLimitBytes: 1 << 20,
    door: tenantDoor(d.app),
  });
  return (token: string, path: string, init: RequestInit = {}) =>
    app.fetch(
      new Request(`http://localhost${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) },
      }),
    );
}

async function tenantRowCounts(d: TestDb, workspaceIds: string[]): Promise<Record<string, number>> {
  const tables = await d.owner.query<{ t: string }>(
    "select distinct table_name::text as t from information_schema.columns where table_schema = current_schema() and column_name = 'workspace_id' order by 1",
  );
  const counts: Record<string, number> = {};
  for (const { t } of tables) {
    const [row] = await d.owner.query<{ n: number }>(
      `select count(*)::int as n from "${t}" where workspace_id = any($1::text[])`,
      [workspaceIds],
    );
    counts[t] = row?.n ?? 0;
  }
  return counts;
}

describeEngines("tenant lifecycle", (kind) => {
  test("onboard creates organization, workspace, settings, owner and a working one-time token; a second onboard is 'already exists'", async () => {
    db = await createTestDb(kind);
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme Corp", adminEmail: "Ops@Acme.com" });
    expect(acme).toMatchObject({ admin_email: "ops@acme.com", slug: "acme" });
    expect(acme.admin_token).toMatch(/^clp_pat_[0-9a-z]{26}_[0-9a-f]{64}_[0-9a-f]{8}$/);
    const stored = await db.owner.query<{ pat_hash: string }>(
      "select pat_hash from personal_access_tokens where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(stored[0]?.pat_hash).toBe(new Bun.CryptoHasher("sha256").update(acme.admin_token as string).digest("hex"));
    const settings = await db.owner.query(
      "select issue_retention_days, activity_retention_days, prediction_retention_days, audit_log_retention_days from workspace_settings where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(settings[0]).toEqual({
      issue_retention_days: 365,
      activity_retention_days: 90,
      prediction_retention_days: 180,
      audit_log_retention_days: 365,
    });

    const call = api(db);
    const me = await call(acme.admin_token as string, "/v1/me");
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ role: "owner", workspace: { id: acme.workspace_id } });

    expect(onboard(db.owner, { slug: "acme", name: "Again", adminEmail: "x@acme.com" })).rejects.toMatchObject({
      code: "already_exists",
    });
    const again = await onboard(db.owner, { slug: "acme", name: "Again", adminEmail: "x@acme.com", ifNotExists: true });
    expect(again).toMatchObject({
      organization_id: acme.organization_id,
      workspace_id: acme.workspace_id,
      existed: true,
    });
    expect(again.admin_token).toBeUndefined();

    expect(onboard(db.owner, { slug: "Bad_Slug", name: "x", adminEmail: "a@b.co" })).rejects.toMatchObject({
      code: "validation_failed",
    });
    expect(onboard(db.owner, { slug: "okay", name: "x", adminEmail: "not-an-email" })).rejects.toMatchObject({
      code: "validation_failed",
    });

    const audit = await db.owner.query<{ action: string; actor_type: string }>(
      "select action, actor_type from audit_log where workspace_id = $1 order by seq",
      [acme.workspace_id],
    );
    expect(audit.map((a) => a.action)).toEqual(["tenant.onboarded", "token.created"]);
  });

  test("workspace add and tenants list", async () => {
    db = await createTestDb(kind);
    await onboard(db.owner, { slug: "acme", name: "Acme Corp", adminEmail: "ops@acme.com" });
    const staging = await addWorkspace(db.owner, "acme", "staging");
    expect(addWorkspace(db.owner, "acme", "staging")).rejects.toMatchObject({ code: "already_exists" });
    expect(addWorkspace(db.owner, "nobody", "staging")).rejects.toMatchObject({ code: "not_found" });
    const rows = await listTenants(db.owner);
    expect(rows.map((r) => `${r.slug}/${r.workspace_slug}:${r.members}`)).toEqual([
      "acme/production:1",
      "acme/staging:1",
    ]);
    expect(rows.find((r) => r.workspace_slug === "staging")?.workspace_id).toBe(staging.workspace_id);
  });

  test("soft offboarding answers 403 'workspace disabled'; restore brings the token back", async () => {
    db = await createTestDb(kind);
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme Corp", adminEmail: "ops@acme.com" });
    const call = api(db);
    const record = await offboard(db.owner, "acme", "soft", "operator:test");
    expect(record).toMatchObject({ mode: "soft", performed_by: "operator:test" });
    const refused = await call(acme.admin_token as string, "/v1/issues");
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "workspace_disabled" });
    expect((await listTenants(db.owner))[0]?.status).toBe("disabled");
    await restore(db.owner, "acme");
    expect((await call(acme.admin_token as string, "/v1/issues")).status).toBe(200);
    expect(restore(db.owner, "acme")).rejects.toMatchObject({ code: "conflict" });
  });

  test("purge deletes every row of the tenant in every tenant table and leaves the offboarding record", async () => {
    db = await createTestDb(kind);
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme Corp", adminEmail: "ops@acme.com" });
    const globex = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" });
    const staging = await addWorkspace(db.owner, "acme", "staging");
    const call = api(db);
    for (const token of [acme.admin_token, globex.admin_token]) {
      const created = await call(token as string, "/v1/issues", {
        method: "POST",
        body: JSON.stringify({ title: "Checkout down", reporter_email: "jane@example.com" }),
      });
      expect(created.status).toBe(201);
    }
    const acmeWorkspaces = [acme.workspace_id, staging.workspace_id];
    await seedWorkspaces(db.owner, acmeWorkspaces);
    const before = await tenantRowCounts(db, acmeWorkspaces);
    const globexBefore = await tenantRowCounts(db, [globex.workspace_id]);

    const record = await offboard(db.owner, "acme", "purge", "operator:test");
    expect(record).toMatchObject({ mode: "purge", status: "completed", slug: "acme", performed_by: "operator:test" });
    expect(record.workspace_ids.sort()).toEqual([...acmeWorkspaces].sort());
    for (const [table, count] of Object.entries(before)) if (count > 0) expect(record.row_counts[table]).toBe(count);

    const after = await tenantRowCounts(db, acmeWorkspaces);
    expect(Object.entries(after).filter(([, n]) => n > 0)).toEqual([]);
    expect(await db.owner.query("select id from organizations where slug = 'acme'")).toEqual([]);
    expect(await db.owner.query("select id from workspaces where id = any($1::text[])", [acmeWorkspaces])).toEqual([]);
    expect(await db.owner.query("select id from users where email = 'ops@acme.com'")).toEqual([]);
    expect(await tenantRowCounts(db, [globex.workspace_id])).toEqual(globexBefore);
    expect((await call(globex.admin_token as string, "/v1/issues")).status).toBe(200);
    expect((await call(acme.admin_token as string, "/v1/issues")).status).toBe(401);

    const records = await offboardingRecords(db.owner, "acme");
    expect(records.map((r) => r.mode)).toEqual(["purge"]);
    const repeated = await offboard(db.owner, "acme", "purge");
    expect(repeated).toMatchObject({ id: record.id, already_purged: true });
  });
});
