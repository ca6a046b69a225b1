// The audit chain sequenced after commit (migration 0043, src/audit/sequencer.ts), on both engines: an event is
// queued in its change's transaction and chained right after the commit; what a process left queued (it died
// between its commit and its flush) is chained by the sweep and before any verification; a rolled-back change
// leaves no event; the queue is as append-only as the trail; and an event that cannot be chained is reported,
// never skipped.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { appendAudit } from "../../src/audit/service.ts";
import { flushAudit, sweepAuditQueue } from "../../src/audit/sequencer.ts";
import { verifyEverything } from "../../src/audit/all-chains.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { offboard, onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

describeEngines("audit sequencer", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let signer: Signer;
  const event = (targetId: string) => ({
    workspaceId: acme.workspace_id,
    action: "issue.created",
    actorId: "usr_seq",
    actorType: "user" as const,
    targetType: "issue",
    targetId,
    context: {},
  });
  const counts = async () => {
    const [row] = await db.owner.query<{ chained: number; queued: number }>(
      `select (select count(*)::int from audit_log where workspace_id = $1) as chained,
              (select count(*)::int from audit_queue where workspace_id = $1) as queued`,
      [acme.workspace_id],
    );
    return row;
  };

  beforeEach(async () => {
    db = await createTestDb(kind);
    signer = await testSigner();
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.test" });
  });
  afterEach(async () => {
    await db.dispose();
  });

  test("onboarding's own events are chained when onboard returns", async () => {
    const before = await counts();
    expect(before?.queued).toBe(0);
    expect(before?.chained).toBeGreaterThan(0);
  });

  test("events are chained in the order they were queued, even within one tick of the engine's clock", async () => {
    // PGlite's clock moves in whole milliseconds and ids of one millisecond are in random order: before
    // migration 0046, events queued within a millisecond could be chained in any order.
    const targets = Array.from({ length: 20 }, (_, i) => `iss_order_${String(i).padStart(2, "0")}`);
    await withTenant(db.app, acme.workspace_id, async (tx) => {
      for (const target of targets.slice(0, 10)) await appendAudit(tx, event(target));
    });
    // Then in transactions of their own, queued without a flush in between, chained by one run.
    for (const target of targets.slice(10))
      await withTenant(db.app, acme.workspace_id, (tx) =>
        tx.query("select audit_append($1, 'issue.created', 'usr_seq', 'user', 'issue', $2)", [
          acme.workspace_id,
          target,
        ]),
      );
    await flushAudit(db.app, acme.workspace_id);
    const chained = await db.owner.query<{ target_id: string }>(
      "select target_id from audit_log where workspace_id = $1 and target_id like 'iss_order_%' order by seq",
      [acme.workspace_id],
    );
    expect(chained.map((r) => r.target_id)).toEqual(targets);
  });

  test("an event is in the chain as soon as its transaction has returned; a rolled-back one is nowhere", async () => {
    const before = await counts();
    await withTenant(db.app, acme.workspace_id, (tx) => appendAudit(tx, event("iss_1")));
    expect(await counts()).toEqual({ chained: (before?.chained ?? 0) + 1, queued: 0 });
    await expect(
      withTenant(db.app, acme.workspace_id, async (tx) => {
        await appendAudit(tx, event("iss_rolled_back"));
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    expect(await counts()).toEqual({ chained: (before?.chained ?? 0) + 1, queued: 0 });
    const [gone] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from audit_log where target_id = 'iss_rolled_back'",
    );
    expect(gone?.n).toBe(0);
  });

  test("an event a process left queued is chained by the sweep, and before any verification", async () => {
    // A commit whose flush never ran: audit_append called outside the engine's transaction hooks.
    await db.app.query("select audit_sequence($1)", [acme.workspace_id]); // nothing queued: a no-op
    const before = await counts();
    await db.app.transaction(async (tx) => {
      await tx.query("select set_config('app.current_workspace', $1, true)", [acme.workspace_id]);
      if (kind === "pglite") await tx.exec("set local role causeloop_app");
      await tx.query("select audit_append($1, 'issue.created', 'usr_seq', 'user', 'issue', 'iss_left')", [
        acme.workspace_id,
      ]);
    });
    // The engine's transaction ran no hook for a raw audit_append: the event waits in the queue.
    expect(await counts()).toEqual({ chained: before?.chained ?? 0, queued: 1 });
    // The sweep leaves events younger than its minimum age to their own flush...
    expect(await sweepAuditQueue(db.app, 60)).toBe(0);
    expect((await counts())?.queued).toBe(1);
    // ...and verification chains everything first.
    const report = await verifyEverything(db.owner, signer, acme.workspace_id, {});
    expect(report.ok).toBe(true);
    expect(await counts()).toEqual({ chained: (before?.chained ?? 0) + 1, queued: 0 });
    const [last] = await db.owner.query<{ target_id: string; seq: number }>(
      "select target_id, seq::int as seq from audit_log where workspace_id = $1 order by seq desc limit 1",
      [acme.workspace_id],
    );
    expect(last).toEqual({ target_id: "iss_left", seq: (before?.chained ?? 0) + 1 });
  });

  test("concurrent flushes of one workspace chain every event once, gapless", async () => {
    const before = await counts();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        withTenant(db.app, acme.workspace_id, (tx) => appendAudit(tx, event(`iss_c${i}`))),
      ),
    );
    await Promise.all([flushAudit(db.app, acme.workspace_id), flushAudit(db.app, acme.workspace_id)]);
    expect(await counts()).toEqual({ chained: (before?.chained ?? 0) + 12, queued: 0 });
    const [gaps] = await db.owner.query<{ n: number; max: number }>(
      "select count(distinct seq)::int as n, max(seq)::int as max from audit_log where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(gaps).toEqual({ n: (before?.chained ?? 0) + 12, max: (before?.chained ?? 0) + 12 });
    expect((await verifyEverything(db.owner, signer, acme.workspace_id, {})).ok).toBe(true);
  });

  test("the queue is append-only for every role; only the sequencer and a tenant purge empty it", async () => {
    await db.app.transaction(async (tx) => {
      await tx.query("select set_config('app.current_workspace', $1, true)", [acme.workspace_id]);
      if (kind === "pglite") await tx.exec("set local role causeloop_app");
      await tx.query("select audit_append($1, 'issue.created', 'usr_seq', 'user', 'issue', 'iss_q')", [
        acme.workspace_id,
      ]);
    });
    for (const sql of [
      "update audit_queue set action = 'issue.viewed'",
      "delete from audit_queue",
      "truncate audit_queue",
    ])
      await expect(db.owner.query(sql)).rejects.toThrow(/append-only/);
    // The runtime role has no UPDATE on the queue at all, and its DELETE meets the same guard.
    await expect(
      withTenant(db.app, acme.workspace_id, (tx) => tx.query("update audit_queue set action = 'issue.viewed'")),
    ).rejects.toThrow(/permission denied|append-only/);
    await expect(withTenant(db.app, acme.workspace_id, (tx) => tx.query("delete from audit_queue"))).rejects.toThrow(
      /append-only/,
    );
    expect((await counts())?.queued).toBe(1);
    await offboard(db.owner, "acme", "purge");
    const [left] = await db.owner.query<{ n: number }>("select count(*)::int as n from audit_queue");
    expect(left?.n).toBe(0);
  });

  test("an event that cannot be chained fails verification instead of being skipped", async () => {
    const [existing] = await db.owner.query<{ id: string }>(
      "select id from audit_log where workspace_id = $1 order by seq limit 1",
      [acme.workspace_id],
    );
    // A queued event whose id is already in the chain: the sequencer's insert fails on it every time.
    await db.owner.query(
      `insert into audit_queue (workspace_id, id, action, actor_type, created_at)
       values ($1, $2, 'issue.created', 'system', now() - interval '1 minute')`,
      [acme.workspace_id, existing?.id],
    );
    const report = await verifyEverything(db.owner, signer, acme.workspace_id, {});
    expect(report.ok).toBe(false);
    expect(report.workspaces[0]?.reason).toContain("could not be chained");
  });
});
