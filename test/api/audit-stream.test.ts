// Audit streaming as a client's security team meets it: the workspace's trail arrives at their collector in
// order, every event once (a batch sent twice carries the same id), through collector restarts and lost
// answers, with the chain hashes that let them check continuity offline; Splunk HEC gets its own format.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { appendAudit } from "../../src/audit/service.ts";
import type { ChainRow } from "../../src/audit/chain.ts";
import { verifyAuditExport } from "../../src/audit/verify-export.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { silentLogger } from "../../src/log.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { AuditStreamer } from "../../src/delivery/audit-stream.ts";
import { describeEngines } from "../helpers/db.ts";
import { freePort } from "../helpers/binary.ts";
import { ownerApp, type OwnerApp } from "../helpers/routes.ts";

const TOKEN = "collector-bearer-token-0123456789";

interface Batch {
  batch_id: string;
  first_seq: number;
  last_seq: number;
  prev_hash: string | null;
  last_hash: string;
  events: ChainRow[];
}

describeEngines("audit streaming", (kind) => {
  let h: OwnerApp;
  let port: number;
  let collector: ReturnType<typeof Bun.serve> | undefined;
  const batches = new Map<string, Batch>(); // by batch id: a batch received twice is kept once
  let received = 0;
  let loseNextAnswer = false;
  const hec: { auth: string | null; lines: { event: ChainRow; sourcetype: string }[] }[] = [];
  const policy = outboundPolicy({ allowlist: "127.0.0.1", timeoutMs: 5000 });

  const startCollector = () => {
    collector = Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch: async (request) => {
        const path = new URL(request.url).pathname;
        const text = await request.text();
        if (path === "/services/collector/event") {
          hec.push({
            auth: request.headers.get("authorization"),
            lines: text.split("\n").map((l) => JSON.parse(l)),
          });
          return Response.json({ text: "Success", code: 0 });
        }
        if (request.headers.get("authorization") !== `Bearer ${TOKEN}`) return new Response("no", { status: 401 });
        const batch = JSON.parse(text) as Batch;
        expect(request.headers.get("x-causeloop-batch-id")).toBe(batch.batch_id);
        batches.set(batch.batch_id, batch);
        received++;
        if (loseNextAnswer) {
          loseNextAnswer = false; // stored, but the answer is lost: the streamer must send it again
          return new Response("gateway timeout", { status: 504 });
        }
        return new Response(null, { status: 204 });
      },
    });
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { "content-type": "application/json", authorization: `Bearer ${h.token}` },
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  const streamer = () => new AuditStreamer(h.db.app, h.kek, policy, silentLogger, { backoff: () => 0 });

  beforeAll(async () => {
    port = await freePort();
    startCollector();
    h = await ownerApp(kind, { outbound: policy });
  });
  afterAll(async () => {
    collector?.stop(true);
    await h.dispose();
  });

  test("5,000 events through two collector restarts and a lost answer: every event once, in order, verifiable", async () => {
    const created = await call("POST", "/v1/audit-streams", {
      url: `http://127.0.0.1:${port}/collect`,
      token: TOKEN,
      batch_size: 400,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ format: "json", has_token: true, cursor_seq: 0 });
    expect(JSON.stringify(created.body)).not.toContain(TOKEN);
    const ws = h.tenant.workspace_id;
    for (let chunk = 0; chunk < 10; chunk++)
      await withTenant(h.db.app, ws, async (tx) => {
        for (let i = 0; i < 500; i++)
          await appendAudit(tx, {
            workspaceId: ws,
            action: "issue.viewed",
            actorId: "usr_burst",
            actorType: "user",
            targetType: "issue",
            targetId: `iss_${chunk}_${i}`,
          });
      });

    const s = streamer();
    let rounds = 0;
    for (; rounds < 200; rounds++) {
      if (received === 3 || received === 8) {
        collector?.stop(true); // the collector goes down ...
        for (let i = 0; i < 3; i++) await s.drain(); // ... sends fail, the cursor stays
        startCollector(); // ... and comes back
        received++;
      }
      if (received === 5) loseNextAnswer = true;
      const before = received;
      await s.drain();
      if (received === before && (await call("GET", `/v1/audit-streams/${created.body.id}`)).body.lag === 0) break;
    }
    const [head] = await h.db.owner.query<{ n: number }>(
      "select max(seq)::int as n from audit_log where workspace_id = $1",
      [ws],
    );
    // The lost answer made the streamer send one batch twice (same id): the collector kept it once.
    expect(received - 2).toBe(batches.size + 1);
    const ordered = [...batches.values()].sort((a, b) => a.first_seq - b.first_seq);
    const events = ordered.flatMap((b) => b.events);
    expect(events.length).toBeGreaterThanOrEqual(5000);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: head?.n ?? 0 }, (_, i) => i + 1));
    // Each batch links to the one before it, and the whole stream verifies like an export.
    for (let i = 1; i < ordered.length; i++)
      expect((ordered[i] as Batch).prev_hash).toBe((ordered[i - 1] as Batch).last_hash);
    const asExport = [
      JSON.stringify({ type: "key", workspace_id: ws }),
      ...events.map((e) => JSON.stringify({ type: "row", ...e })),
    ].join("\n");
    expect(await verifyAuditExport(asExport)).toMatchObject({ ok: true, rows: events.length });
    const stream = await call("GET", `/v1/audit-streams/${created.body.id}`);
    expect(stream.body).toMatchObject({ cursor_seq: head?.n, lag: 0, failure_count: 0 });
  }, 120_000);

  test("Splunk HEC: one event object per row with the HEC token; a stream from now skips the past", async () => {
    const hecToken = "00000000-1111-2222-3333-444444444444";
    const created = await call("POST", "/v1/audit-streams", {
      url: `http://127.0.0.1:${port}/services/collector/event`,
      format: "splunk_hec",
      token: hecToken,
      from: "now",
    });
    expect(created.status).toBe(201);
    const from = Number(created.body.cursor_seq);
    expect(from).toBeGreaterThan(0);
    expect((await call("POST", "/v1/issues", { title: "Streamed to Splunk" })).status).toBe(201);
    const s = streamer();
    for (let i = 0; i < 5; i++) await s.drain();
    expect(hec.length).toBeGreaterThanOrEqual(1);
    expect(hec.every((b) => b.auth === `Splunk ${hecToken}`)).toBe(true);
    const lines = hec.flatMap((b) => b.lines);
    expect(lines.every((l) => l.sourcetype === "causeloop:audit")).toBe(true);
    expect(lines.map((l) => l.event.seq)[0]).toBe(from + 1);
    expect(lines.map((l) => l.event.action)).toContain("issue.created");
    expect((await call("DELETE", `/v1/audit-streams/${created.body.id}`)).status).toBe(204);
    expect((await call("GET", `/v1/audit-streams/${created.body.id}`)).status).toBe(404);
  });
});
