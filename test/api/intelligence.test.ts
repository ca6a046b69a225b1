// Incident intelligence through the API, on both engines: events of the same problem land in one cluster
// with a readable template; engineers' merges, splits and pins are remembered for later events; a recurring
// cluster gets a pattern and a prediction, which is scored hit or miss once its window has passed; a problem
// resolved before brings its resolution as a recommendation, which engineers accept or dismiss.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { forgetClusterEngines } from "../../src/intelligence/clusters.ts";
import { refreshInsights } from "../../src/intelligence/insights.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { apiDeps, jsonCaller } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { ingestEvent, recurringProblem } from "../helpers/intelligence.ts";

type Json = Record<string, unknown> & { data?: Record<string, unknown>[] };

describeEngines("intelligence", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const call = jsonCaller<Json>({ fetch: (r) => app.fetch(r) }, () => acme.admin_token as string);
  const ingest = (message: string, at: Date, service = "checkout") =>
    ingestEvent(db.app, acme.workspace_id, message, at, service);
  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    app = createApp(apiDeps(db, kek));
  });
  afterAll(() => db.dispose());

  test("the same problem with other numbers, hosts and ids is one cluster with a template; another problem is not", async () => {
    const now = Date.now();
    const first = await ingest("Connection to db-1.internal:5432 timed out after 3000 ms", new Date(now - 50_000));
    expect(first.is_new).toBe(true);
    const second = await ingest("Connection to db-7.internal:5432 timed out after 12000 ms", new Date(now - 40_000));
    expect(second.cluster_id).toBe(first.cluster_id);
    const other = await ingest("Connection to db-1.internal:5432 refused", new Date(now - 30_000), "billing");
    expect(other.cluster_id).not.toBe(first.cluster_id);
    const cluster = (await call("GET", `/v1/clusters/${first.cluster_id}`)).body;
    expect(cluster.template).toContain("timed out after");
    expect(cluster.template).toContain("<*>");
    expect(cluster.event_count).toBe(2);
    expect(cluster.services).toEqual(["checkout"]);
    const byService = await call("GET", "/v1/clusters?service=billing");
    expect(byService.body.data?.map((c) => c.id)).toEqual([other.cluster_id]);
    // A resumed engine (another instance, a restart) assigns the same way.
    forgetClusterEngines();
    const again = await ingest("Connection to db-9.internal:5432 timed out after 1 ms", new Date(now - 20_000));
    expect(again.cluster_id).toBe(first.cluster_id);
  });

  test("merge, split and pin are remembered for later events", async () => {
    const now = Date.now();
    const a = await ingest("Payment provider answered 502 for order 1234", new Date(now - 9000));
    const b = await ingest("Card network unreachable while charging order 99", new Date(now - 8000));
    expect(a.cluster_id).not.toBe(b.cluster_id);
    const merged = await call("POST", `/v1/clusters/${a.cluster_id}/merge`, { from: b.cluster_id });
    expect(merged.status).toBe(200);
    expect(merged.body.event_count).toBe(2);
    expect(merged.body.corrected).toBe(true);
    expect((await call("GET", `/v1/clusters/${b.cluster_id}`)).status).toBe(404);
    const later = await ingest("Card network unreachable while charging order 4242", new Date(now - 7000));
    expect(later.cluster_id).toBe(a.cluster_id);

    const split = await call("POST", "/v1/clusters/split", {
      match: "Card network unreachable while charging order <*>",
    });
    expect(split.status).toBe(201);
    expect(split.body.moved).toBe(2);
    const afterSplit = await ingest("Card network unreachable while charging order 5", new Date(now - 6000));
    expect(afterSplit.cluster_id).toBe(split.body.id as string);

    const pinned = await call("POST", `/v1/clusters/${a.cluster_id}/pin`, {
      match: "Card network unreachable while charging order 5",
    });
    expect(pinned.status).toBe(200);
    expect(pinned.body.moved).toBe(1);
    const exact = await ingest("Card network unreachable while charging order 5", new Date(now - 5000));
    expect(exact.cluster_id).toBe(a.cluster_id);
    expect((await call("POST", "/v1/clusters/split", { match: "   " })).status).toBe(422);
    expect((await call("POST", `/v1/clusters/${a.cluster_id}/merge`, { from: a.cluster_id })).status).toBe(422);
  });

  test("a recurring cluster gets a pattern and a prediction, scored hit once its window passed", async () => {
    const now = Date.now();
    const every = 5 * 60_000;
    const clusterId = await recurringProblem(db.app, acme.workspace_id, "Nightly");
    const refreshed = await call("POST", "/v1/predictions/refresh");
    expect(refreshed.status).toBe(200);
    const patterns = await call("GET", `/v1/patterns?cluster_id=${clusterId}`);
    expect(patterns.body.data?.map((p) => p.kind)).toEqual(["periodic"]);
    expect(String(patterns.body.data?.[0]?.description)).toContain("every ~5 min");
    const predictions = await call("GET", `/v1/predictions?cluster_id=${clusterId}`);
    const [prediction] = predictions.body.data as {
      id: string;
      window_start: string;
      window_end: string;
      outcome: string;
    }[];
    expect(prediction?.outcome).toBe("pending");
    const start = Date.parse(prediction?.window_start as string);
    const end = Date.parse(prediction?.window_end as string);
    expect(start).toBeGreaterThan(now - every);
    expect(end).toBeLessThanOrEqual(now + 2 * every);
    // It happens inside the window; once the window is over, the prediction is a hit.
    await ingest("Nightly sync job 2000 failed: quota exceeded", new Date((start + end) / 2));
    const scored = await withTenant(db.app, acme.workspace_id, (tx) =>
      refreshInsights(tx, acme.workspace_id, new Date(end + 1000)),
    );
    expect(scored.scored.hit).toBe(1);
    const after = await call("GET", `/v1/predictions/${prediction?.id}`);
    expect(after.body.outcome).toBe("hit");
    expect((await call("GET", "/v1/predictions")).body.hit_rate).toMatchObject({ hit: 1, miss: 0, rate: 1 });
    // Nobody wrote down how it is fixed: a runbook is recommended for it.
    const recs = await call("GET", "/v1/recommendations?kind=missing_runbook");
    expect(recs.body.data?.map((r) => r.cluster_id)).toContain(clusterId);
    const dismissed = await call("POST", `/v1/patterns/${patterns.body.data?.[0]?.id}/feedback`, {
      decision: "dismiss",
    });
    expect(dismissed.body.status).toBe("dismissed");
  });

  test("what resolved the same problem before is recommended for the open issue; feedback is counted", async () => {
    const assigned = await ingest("Disk /var/lib/postgresql is 97% full on db-2", new Date(Date.now() - 1000));
    const make = async (status: string, resolution: string | null) => {
      const created = await call("POST", "/v1/issues", { title: "Disk full on a database host", severity: "high" });
      // Ingestion links an issue to its cluster; this one was made through the API, so the link is set here.
      await db.owner.query("update issues set cluster_id = $3 where workspace_id = $1 and id = $2", [
        acme.workspace_id,
        created.body.id,
        assigned.cluster_id,
      ]);
      const patched = await call("PATCH", `/v1/issues/${created.body.id}`, { status, resolution });
      expect(patched.body).toMatchObject({ status, resolution, cluster_id: assigned.cluster_id });
      return created.body.id as string;
    };
    const old = await make("resolved", "Rotated the WAL archive and raised the volume to 500 GB");
    const open = await make("open", null);
    await call("POST", "/v1/predictions/refresh");
    const recs = await call("GET", `/v1/recommendations?issue_id=${open}`);
    const [rec] = recs.body.data as {
      id: string;
      kind: string;
      body: string;
      evidence: { resolved_issue_id: string };
    }[];
    expect(rec?.kind).toBe("similar_resolution");
    expect(rec?.body).toBe("Rotated the WAL archive and raised the volume to 500 GB");
    expect(rec?.evidence.resolved_issue_id).toBe(old);
    const accepted = await call("POST", `/v1/recommendations/${rec?.id}/feedback`, { decision: "accept" });
    expect(accepted.body.status).toBe("accepted");
    expect(((await call("GET", "/v1/recommendations")).body.counts as Record<string, number>).accepted).toBe(1);
    // Refreshing again does not pile up copies.
    await call("POST", "/v1/predictions/refresh");
    expect((await call("GET", `/v1/recommendations?issue_id=${open}`)).body.data?.length).toBe(1);
    expect((await call("POST", `/v1/recommendations/${rec?.id}/feedback`, { decision: "maybe" })).status).toBe(422);
  });
});
