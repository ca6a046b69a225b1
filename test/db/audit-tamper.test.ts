// The audit trail against its own database owner, on both engines, written as the attacks: the settings that
// used to open the append-only guard no longer do; checkpoints cannot be changed or removed; and what an owner
// with full control can still do (replication-role sessions that skip triggers, rewriting history with
// correct hashes, deleting the tail and forging rows, deleting checkpoints with their rows, never letting the
// signer run) is caught by the anchors outside the database and the checkpoint cadence.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withTenant } from "../../src/db/tenant.ts";
import { appendAudit } from "../../src/audit/service.ts";
import { listOperatorAlerts } from "../../src/security/alerts.ts";
import { checkpointEverything, verifyEverything, type VerifyChecks } from "../../src/audit/all-chains.ts";
import { fileAnchorStore, type AnchorStore } from "../../src/audit/anchors.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { offboard, onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

describeEngines("audit tampering by the database owner", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  let signer: Signer;
  let dir: string;
  let anchors: AnchorStore;
  const checks = (extra: Partial<VerifyChecks> = {}): VerifyChecks => ({
    anchors,
    cadence: { everyEvents: 100, maxAgeMinutes: 10 },
    ...extra,
  });
  const append = async (n: number, action = "issue.created") => {
    for (let i = 0; i < n; i++) {
      await withTenant(db.app, acme.workspace_id, (tx) =>
        appendAudit(tx, {
          workspaceId: acme.workspace_id,
          action,
          actorId: "usr_attacked",
          actorType: "user",
          targetType: "issue",
          targetId: `iss_${i}`,
          context: {},
        }),
      );
    }
  };
  /** As the owner, with triggers skipped (what `session_replication_role = replica` gives a superuser owner). */
  const asReplica = (fn: (q: { query: TestDb["owner"]["query"] }) => Promise<unknown>) =>
    db.owner.transaction(async (tx) => {
      await tx.exec("set local session_replication_role = replica");
      await fn(tx);
    });
  const verify = (extra: Partial<VerifyChecks> = {}) =>
    verifyEverything(db.owner, signer, acme.workspace_id, checks(extra));
  const reasons = async (extra: Partial<VerifyChecks> = {}) => {
    const report = await verify(extra);
    return { ok: report.ok, reason: report.workspaces[0]?.reason ?? "" };
  };

  beforeEach(async () => {
    db = await createTestDb(kind);
    signer = await testSigner();
    dir = mkdtempSync(join(tmpdir(), "causeloop-anchors-"));
    anchors = fileAnchorStore(join(dir, "audit-anchors.ndjson"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" });
    await append(8);
    await checkpointEverything(db.owner, signer, acme.workspace_id, anchors);
    await append(4);
  });
  afterEach(async () => {
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the honest trail verifies, with its anchor and cadence", async () => {
    expect(await reasons()).toEqual({ ok: true, reason: "" });
    const report = await verify();
    expect(report.anchors?.checked).toBe(1);
    expect(await listOperatorAlerts(db.owner)).toEqual([]); // a trail that verifies raises nothing
  });

  test("the settings that used to exempt deletes open nothing", async () => {
    for (const setting of [
      `select set_config('causeloop.tenant_purge', '${acme.workspace_id}', true)`,
      "select set_config('causeloop.audit_purge', 'on', true)",
    ]) {
      const refused = await db.owner
        .transaction(async (tx) => {
          await tx.query(setting);
          await tx.query("delete from audit_log where workspace_id = $1", [acme.workspace_id]);
        })
        .then(
          () => "deleted",
          (e: Error) => e.message,
        );
      expect(refused).toContain("append-only");
    }
    const [count] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from audit_log where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(count?.n).toBeGreaterThanOrEqual(12);
  });

  test("checkpoints can be neither changed, deleted nor truncated", async () => {
    await checkpointEverything(db.owner, signer, undefined, anchors); // the operator log's too
    for (const sql of [
      "update audit_checkpoints set hash = repeat('0', 64)",
      "delete from audit_checkpoints",
      "truncate audit_checkpoints",
      "truncate operator_log_checkpoints",
      "delete from operator_log_checkpoints",
    ]) {
      const outcome = await db.owner.query(sql).then(
        () => "done",
        (e: Error) => e.message,
      );
      expect(outcome).toContain("append-only");
    }
  });

  test("rewriting history with correct hashes and no checkpoints left is caught by the anchor", async () => {
    const [before] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from audit_log where workspace_id = $1",
      [acme.workspace_id],
    );
    await asReplica(async (q) => {
      await q.query("delete from audit_checkpoints where workspace_id = $1", [acme.workspace_id]);
      await q.query("delete from audit_log where workspace_id = $1", [acme.workspace_id]);
    });
    // Re-append the same number of events through the real append function: every hash is right, one action is not.
    for (let i = 0; i < (before?.n ?? 0); i++) await append(1, i === 5 ? "issue.viewed" : "issue.created");
    const withoutAnchors = await verifyEverything(db.owner, signer, acme.workspace_id, {});
    expect(withoutAnchors.ok).toBe(true); // the chain alone cannot tell
    const caught = await reasons();
    expect(caught.ok).toBe(false);
    expect(caught.reason).toMatch(/history rewritten|checkpoint .* is gone/);
    // Caught means alerted: the operator's alert, and the workspace's own for its security team.
    const [operatorAlert] = await listOperatorAlerts(db.owner, { status: "open" });
    expect(operatorAlert).toMatchObject({ rule: "audit_verification_failed", severity: "critical" });
    expect(operatorAlert?.summary).toContain("anchors");
    const workspaceAlerts = await db.owner.query<{ rule: string }>(
      "select rule from security_alerts where workspace_id = $1",
      [acme.workspace_id],
    );
    expect(workspaceAlerts.map((a) => a.rule)).toContain("audit_verification_failed");
  });

  test("deleting the tail and forging rows through audit_append is caught", async () => {
    const [cp] = await db.owner.query<{ seq: number }>(
      "select max(seq)::int as seq from audit_checkpoints where workspace_id = $1",
      [acme.workspace_id],
    );
    const anchored = cp?.seq ?? 0;
    await asReplica(async (q) => {
      await q.query("delete from audit_checkpoints where workspace_id = $1", [acme.workspace_id]);
      await q.query("delete from audit_log where workspace_id = $1 and seq >= $2", [acme.workspace_id, anchored - 2]);
    });
    await append(1, "member.role_changed");
    const caught = await reasons();
    expect(caught.ok).toBe(false);
    expect(caught.reason).toMatch(/tail deleted|history rewritten|is gone/);
  });

  test("deleting checkpoints along with the rows they covered is caught", async () => {
    await asReplica(async (q) => {
      await q.query("delete from audit_checkpoints where workspace_id = $1", [acme.workspace_id]);
    });
    expect((await verifyEverything(db.owner, signer, acme.workspace_id, {})).ok).toBe(true);
    const caught = await reasons();
    expect(caught).toMatchObject({ ok: false });
    expect(caught.reason).toContain("is gone from the database");
  });

  test("a long unsigned tail that the cadence would have signed is reported", async () => {
    await append(25);
    const cadence = { everyEvents: 10, maxAgeMinutes: 1 };
    expect((await reasons({ cadence })).ok).toBe(true); // young events: serve simply has not signed them yet
    const later = await reasons({ cadence, now: new Date(Date.now() + 60 * 60_000) });
    expect(later.ok).toBe(false);
    expect(later.reason).toContain("checkpoints are missing");
    await checkpointEverything(db.owner, signer, acme.workspace_id, anchors);
    expect((await reasons({ cadence, now: new Date(Date.now() + 60 * 60_000) })).ok).toBe(true);
  });

  test("an anchor file edited by hand is reported, never silently skipped", async () => {
    appendFileSync(join(dir, "audit-anchors.ndjson"), "{not an anchor}\n");
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.anchors?.problems.map((p) => p.reason).join(" ")).toContain("not anchors");
  });

  test("a tenant purge still removes the trail and its checkpoints; its anchors are then skipped", async () => {
    await offboard(db.owner, "acme", "purge");
    const [left] = await db.owner.query<{ n: number }>(
      "select (select count(*) from audit_log where workspace_id = $1)::int + (select count(*) from audit_checkpoints where workspace_id = $1)::int as n",
      [acme.workspace_id],
    );
    expect(left?.n).toBe(0);
    const report = await verifyEverything(db.owner, signer, undefined, checks());
    expect(report.anchors?.problems).toEqual([]);
  });
});
