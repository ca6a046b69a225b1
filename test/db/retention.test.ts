// Retention removes exactly the rows past each window (never audit rows younger than 365 days or not yet
// covered by a signed checkpoint), records counts in the compliance log, and the scheduler runs each slot
// once across instances and catches up a missed one.
import { afterEach, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { runRetention } from "../../src/governance/retention.ts";
import { Scheduler, type JobDefinition } from "../../src/jobs/scheduler.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { newPat } from "../../src/identity/tokens.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

async function aged(
  d: TestDb,
  ws: string,
  table: "issues" | "activity_events" | "ingested_events",
  days: number,
  extra = "",
): Promise<void> {
  if (table === "issues")
    await d.owner.query(
      `insert into issues (workspace_id, id, title, created_at${extra ? ", deleted_at" : ""}) values ($1, new_id('iss'), 'old', now() - make_interval(days => $2)${extra ? `, ${extra}` : ""})`,
      [ws, days],
    );
  else if (table === "ingested_events")
    await d.owner.query(
      `insert into ingested_events (workspace_id, id, source, vendor_event_id, fingerprint, title, severity, status, occurred_at, created_at)
       values ($1, new_id('evt'), 'generic', new_id('evt'), 'f', 'old', 'high', 'firing', now(), now() - make_interval(days => $2))`,
      [ws, days],
    );
  else
    await d.owner.query(
      "insert into activity_events (workspace_id, id, kind, created_at) values ($1, new_id('act'), 'issue.viewed', now() - make_interval(days => $2))",
      [ws, days],
    );
}

async function agedAudit(d: TestDb, ws: string, seq: number, days: number): Promise<void> {
  await d.owner.query(
    "insert into audit_log (workspace_id, id, seq, action, actor_type, created_at) values ($1, new_id('aud'), $2, 'test.old', 'system', now() - make_interval(days => $3))",
    [ws, seq, days],
  );
}

describeEngines("retention", (kind) => {
  test("removes exactly the rows past each window, audit rows only past the floor and under a checkpoint, with counts in the compliance log", async () => {
    db = await createTestDb(kind);
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const ws = acme.workspace_id;
    await db.owner.query(
      "update workspace_settings set issue_retention_days = 30, activity_retention_days = 7, audit_log_retention_days = 30 where workspace_id = $1",
      [ws],
    );
    await aged(db, ws, "issues", 40); // past the window
    await aged(db, ws, "issues", 10); // inside
    await aged(db, ws, "issues", 5, "now() - interval '31 days'"); // young, but soft-deleted past the window... (deleted_at before created_at is fine for the test)
    await aged(db, ws, "activity_events", 8);
    await aged(db, ws, "activity_events", 6);
    await aged(db, ws, "ingested_events", 8); // ingested events follow the activity window
    await aged(db, ws, "ingested_events", 6);
    // Audit: seq 100..103 (onboarding wrote 1..2). 400 and 380 days old; 200 days old; 390 days but not under the checkpoint.
    await agedAudit(db, ws, 100, 400);
    await agedAudit(db, ws, 101, 380);
    await agedAudit(db, ws, 102, 200);
    await agedAudit(db, ws, 103, 390);
    await db.owner.query(
      "insert into audit_checkpoints (workspace_id, id, seq, hash, key_id, signature, signed_at) values ($1, new_id('acp'), 102, repeat('a', 64), 'k', 's', 'now')",
      [ws],
    );

    // What is past each window: the dry run counts it, the run removes it, the compliance log records it.
    const expired = {
      issues: 2,
      activity_events: 1,
      ingested_events: 1,
      predictions: 0,
      idempotency_keys: 0,
      sso_flows: 0,
      audit_log: 2,
    };
    const dry = await runRetention(db.app, { dryRun: true });
    expect(dry.totals).toEqual(expired);
    expect((await db.owner.query("select 1 from issues where workspace_id = $1", [ws])).length).toBe(3); // dry run deleted nothing

    const run = await runRetention(db.app);
    expect(run.totals).toEqual(expired);
    const left = await db.owner.query<{ seq: number }>(
      "select seq::int as seq from audit_log where workspace_id = $1 and action = 'test.old' order by seq",
      [ws],
    );
    expect(left.map((r) => r.seq)).toEqual([102, 103]);
    expect((await db.owner.query("select 1 from issues where workspace_id = $1", [ws])).length).toBe(1);
    const log = await db.owner.query<{ details: { counts: Record<string, number> } }>(
      "select details from compliance_log where workspace_id = $1 and kind = 'retention.run'",
      [ws],
    );
    expect(log.map((l) => l.details.counts)).toEqual([expired]);
    expect((await runRetention(db.app)).totals).toEqual({
      issues: 0,
      activity_events: 0,
      ingested_events: 0,
      predictions: 0,
      idempotency_keys: 0,
      sso_flows: 0,
      audit_log: 0,
    });
  });

  test("GET and PATCH /v1/governance/retention validate, show the effective audit floor, and are refused to analysts", async () => {
    db = await createTestDb(kind);
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
    const app = createApp({
      logger: silentLogger,
      readiness: async () => [],
      version: "t",
      bodyLimitBytes: 1 << 20,
      door: tenantDoor(db.app),
    });
    const call = async (method: string, path: string, body?: unknown, token = acme.admin_token as string) => {
      const response = await app.fetch(
        new Request(`http://localhost${path}`, {
          method,
          body: body ? JSON.stringify(body) : undefined,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        }),
      );
      return { status: response.status, body: (await response.json()) as Record<string, Record<string, number>> };
    };
    expect((await call("GET", "/v1/governance/retention")).body.configured).toEqual({
      issue_retention_days: 365,
      activity_retention_days: 90,
      prediction_retention_days: 180,
      audit_log_retention_days: 365,
    });
    const patched = await call("PATCH", "/v1/governance/retention", {
      audit_log_retention_days: 30,
      issue_retention_days: 60,
    });
    expect(patched.status).toBe(200);
    expect(patched.body.configured?.audit_log_retention_days).toBe(30);
    expect(patched.body.effective?.audit_log_retention_days).toBe(365);
    expect(patched.body.effective?.issue_retention_days).toBe(60);
    for (const bad of [
      { issue_retention_days: 0 },
      { issue_retention_days: 5000 },
      { issue_retention_days: 1.5 },
      {},
      { nonsense_days: 3 },
    ])
      expect((await call("PATCH", "/v1/governance/retention", bad)).status).toBe(422);
    const analyst = newPat(acme.workspace_id);
    await db.owner.query(
      "insert into personal_access_tokens (workspace_id, id, user_id, name, token_prefix, pat_hash, role, scopes) values ($1, new_id('pat'), $2, 'a', $3, $4, 'analyst', '{*}')",
      [acme.workspace_id, acme.user_id, analyst.prefix, analyst.hash],
    );
    expect((await call("GET", "/v1/governance/retention", undefined, analyst.token)).status).toBe(403);
    const log = await call("GET", "/v1/governance/compliance-log");
    expect(log.status).toBe(200);
  });
});

test("two scheduler instances on one PostgreSQL run a slot once; a slot missed while down is caught up at start", async () => {
  db = await createTestDb("postgres");
  const other = await openPostgres(parseDatabaseUrl(db.databaseUrl as string, "app"), 2);
  try {
    let runs = 0;
    const job: JobDefinition = {
      name: "retention",
      cron: "30 3 * * *",
      description: "test",
      run: async () => {
        runs++;
        await Bun.sleep(50);
        return { n: runs };
      },
    };
    const a = new Scheduler(db.app, [job], silentLogger);
    const b = new Scheduler(other, [job], silentLogger);
    const slot = new Date("2026-11-20T03:30:00Z");
    const [ra, rb] = await Promise.all([a.runSlot(job, slot, "schedule"), b.runSlot(job, slot, "schedule")]);
    expect(runs).toBe(1);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);

    // The server was down over the 2026-11-21 and 22 slots: start() catches up the latest one, once.
    await a.start(new Date("2026-11-22T12:00:00Z"));
    await Bun.sleep(300);
    await a.stop();
    const rows = await db.owner.query<{ slot: Date; trigger: string; outcome: string }>(
      "select slot, trigger, outcome from scheduler_runs order by slot",
    );
    expect(rows.map((r) => `${new Date(r.slot).toISOString()} ${r.trigger} ${r.outcome}`)).toEqual([
      "2026-11-20T03:30:00.000Z schedule succeeded",
      "2026-11-22T03:30:00.000Z catch_up succeeded",
    ]);
    expect(runs).toBe(2);
  } finally {
    await other.close();
  }
});
