// Outbound delivery as a client's engineers meet it: webhooks subscribed to issue events receive them signed
// per Standard Webhooks (checked with the `standardwebhooks` library, as their receivers do), retried until
// the receiver recovers, dead-lettered when it never does and replayed on request, with the same webhook-id
// every time; a failing destination opens its circuit; a worker that died mid-delivery loses nothing.
import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { DeliveryWorker, pruneDeliveries } from "../../src/delivery/worker.ts";
import type { DeliverySettings } from "../../src/delivery/settings.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { apiDeps } from "../helpers/app.ts";

interface Received {
  path: string;
  id: string;
  body: { type: string; data: Record<string, unknown> };
  headers: Record<string, string>;
  raw: string;
}

describeEngines("outbound delivery", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let kek: LocalKeyRing;
  let acme: OnboardResult;
  let beta: OnboardResult;
  let receiver: ReturnType<typeof Bun.serve>;
  const received: Received[] = [];
  /** Answers per path: a status to send (default 200), consumed from the front; empty means 200. */
  const plan = new Map<string, number[]>();
  const policy = outboundPolicy({ allowlist: "127.0.0.1", timeoutMs: 5000 });
  const settings: DeliverySettings = { retrySchedule: [0, 0, 0, 0, 0, 0], breakerThreshold: 100, breakerSeconds: 60 };
  const worker = (overrides: Partial<DeliverySettings> = {}) =>
    new DeliveryWorker(db.app, kek, policy, silentLogger, { ...settings, ...overrides });
  /** Drains until nothing is due (every schedule entry is 0 s, so retries are due at once). */
  const deliverAll = async (w = worker(), rounds = 20) => {
    for (let i = 0; i < rounds; i++) if ((await w.drain()) === 0) return;
  };

  const call = async (method: string, path: string, body?: unknown, token = acme.admin_token) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  const hook = async (path: string, events?: string[], token = acme.admin_token) => {
    const created = await call(
      "POST",
      "/v1/webhooks",
      { url: `http://127.0.0.1:${receiver.port}${path}`, events },
      token,
    );
    expect(created.status).toBe(201);
    return created.body as { id: string; secret: string };
  };
  const at = (path: string) => received.filter((r) => r.path === path);

  beforeAll(async () => {
    receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        const path = new URL(request.url).pathname;
        const raw = await request.text();
        const headers = Object.fromEntries(request.headers.entries());
        received.push({ path, id: headers["webhook-id"] ?? "", body: JSON.parse(raw), headers, raw });
        const status = plan.get(path)?.shift() ?? 200;
        return new Response(status === 200 ? "ok" : "nope", { status });
      },
    });
    db = await createTestDb(kind);
    kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    beta = await onboard(db.owner, { slug: "beta", name: "Beta", adminEmail: "ops@beta.com" }, kek);
    app = createApp(apiDeps(db, kek, { outbound: policy }));
  });
  afterAll(async () => {
    receiver.stop(true);
    await db.dispose();
  });
  beforeEach(async () => {
    received.length = 0;
    plan.clear();
    // Every test starts with no destination: earlier tests' webhooks would receive this test's events.
    await db.owner.query("update webhooks set deleted_at = now() where deleted_at is null");
  });

  test("issue events reach subscribed receivers signed per Standard Webhooks; nobody else's receiver gets them", async () => {
    const issues = await hook("/acme-issues", ["issue.*"]);
    const createdOnly = await hook("/acme-created", ["issue.created"]);
    const betaHook = await hook("/beta", [], beta.admin_token);
    const issue = await call("POST", "/v1/issues", { title: "Checkout is down", severity: "critical" });
    expect(issue.status).toBe(201);
    expect((await call("PATCH", `/v1/issues/${issue.body.id}`, { status: "resolved" })).status).toBe(200);
    await deliverAll();

    const acmeEvents = at("/acme-issues");
    expect(acmeEvents.map((r) => r.body.type)).toEqual(["issue.created", "issue.updated", "issue.resolved"]);
    expect(acmeEvents[0]?.body.data).toMatchObject({ id: issue.body.id, title: "Checkout is down" });
    for (const event of acmeEvents) {
      // The receiver's own library accepts the signature; a body changed in transit is refused.
      expect(new Webhook(issues.secret).verify(event.raw, event.headers)).toMatchObject({ type: event.body.type });
      expect(() =>
        new Webhook(issues.secret).verify(event.raw.replace("Checkout", "Checkin"), event.headers),
      ).toThrow();
      expect(() => new Webhook(betaHook.secret).verify(event.raw, event.headers)).toThrow();
    }
    expect(new Set(acmeEvents.map((r) => r.id)).size).toBe(3);
    expect(at("/acme-created").map((r) => r.body.type)).toEqual(["issue.created"]);
    expect(at("/acme-created")[0]?.id).toBe(acmeEvents[0]?.id as string); // one event, one webhook-id everywhere
    expect(
      new Webhook(createdOnly.secret).verify(
        at("/acme-created")[0]?.raw as string,
        at("/acme-created")[0]?.headers as Record<string, string>,
      ),
    ).toBeTruthy();
    expect(at("/beta")).toHaveLength(0);
    const listed = await call("GET", `/v1/webhooks/${issues.id}/deliveries`);
    expect((listed.body.data as { status: string }[]).map((d) => d.status)).toEqual([
      "delivered",
      "delivered",
      "delivered",
    ]);
  });

  test("an event rolled back with its change is never sent", async () => {
    await hook("/rolled-back", ["issue.*"]);
    const before = (await db.owner.query<{ n: number }>("select count(*)::int as n from webhook_deliveries"))[0]?.n;
    // A PATCH that fails validation after nothing was written, and one naming a missing issue: no event.
    expect((await call("PATCH", "/v1/issues/iss_01jd0000000000000000000000", { status: "resolved" })).status).toBe(404);
    await deliverAll();
    expect(at("/rolled-back")).toHaveLength(0);
    expect((await db.owner.query<{ n: number }>("select count(*)::int as n from webhook_deliveries"))[0]?.n).toBe(
      before as number,
    );
  });

  test("a receiver that fails 5 times then recovers gets the event exactly once more, with the same id", async () => {
    const flaky = await hook("/flaky", ["issue.created"]);
    plan.set("/flaky", [500, 503, 502, 500, 429]);
    await call("POST", "/v1/issues", { title: "Flaky receiver" });
    await deliverAll();
    const attempts = at("/flaky");
    expect(attempts).toHaveLength(6);
    expect(new Set(attempts.map((a) => a.id)).size).toBe(1);
    const [delivery] = (await call("GET", `/v1/webhooks/${flaky.id}/deliveries`)).body.data as Record<
      string,
      unknown
    >[];
    expect(delivery).toMatchObject({ status: "delivered", attempts: 6, last_status: 200 });
    await deliverAll();
    expect(at("/flaky")).toHaveLength(6); // delivered means done: never sent again
  });

  test("a receiver down for good ends in the dead-letter queue; replay delivers it with the same id", async () => {
    const down = await hook("/down", ["issue.created"]);
    plan.set("/down", Array(7).fill(503));
    await call("POST", "/v1/issues", { title: "Receiver down" });
    await deliverAll();
    expect(at("/down")).toHaveLength(7); // the first attempt and the six retries of the schedule
    const dead = await call("GET", `/v1/webhooks/${down.id}/deliveries?status=dead`);
    const [letter] = dead.body.data as Record<string, unknown>[];
    expect(letter).toMatchObject({ status: "dead", attempts: 7, last_status: 503, event_type: "issue.created" });
    expect(letter?.last_error).toBe("the endpoint answered HTTP 503");

    const replayed = await call("POST", `/v1/webhooks/${down.id}/deliveries/${letter?.id}/replay`);
    expect(replayed.status).toBe(202);
    expect(replayed.body).toMatchObject({ status: "pending", attempts: 0 });
    expect((await call("POST", `/v1/webhooks/${down.id}/deliveries/${letter?.id}/replay`)).status).toBe(409);
    await deliverAll();
    expect(at("/down")).toHaveLength(8);
    expect(at("/down")[7]?.id).toBe(at("/down")[0]?.id as string);
    expect((await call("GET", `/v1/webhooks/${down.id}/deliveries?status=dead`)).body.data).toEqual([]);
    const audit = await db.owner.query<{ action: string }>(
      "select action from audit_log where workspace_id = $1 and target_id = $2",
      [acme.workspace_id, letter?.id],
    );
    expect(audit.map((a) => a.action)).toEqual(["webhook.delivery_replayed"]);
  });

  test("a failing destination opens its circuit: its other deliveries wait without spending attempts", async () => {
    const failing = await hook("/breaker", ["issue.created"]);
    plan.set("/breaker", Array(50).fill(500));
    for (let i = 0; i < 5; i++) await call("POST", "/v1/issues", { title: `Breaker ${i}` });
    await deliverAll(worker({ breakerThreshold: 3, breakerSeconds: 3600 }));
    expect(at("/breaker")).toHaveLength(3);
    const webhook = await call("GET", `/v1/webhooks/${failing.id}`);
    expect(webhook.body.status).toBe("failing");
    const deliveries = (await call("GET", `/v1/webhooks/${failing.id}/deliveries`)).body.data as {
      attempts: number;
      status: string;
    }[];
    expect(deliveries.every((d) => d.status === "pending")).toBe(true);
    expect(deliveries.map((d) => d.attempts).reduce((a, b) => a + b, 0)).toBe(3);
    // Replaying closes the circuit; the receiver recovers and the destination is active again.
    plan.set("/breaker", []);
    const dead = deliveries.find((d) => d.attempts > 0) as unknown as { id: string };
    await db.owner.query("update webhook_deliveries set status = 'dead' where id = $1", [dead.id]);
    expect((await call("POST", `/v1/webhooks/${failing.id}/deliveries/${dead.id}/replay`)).status).toBe(202);
    await deliverAll(worker({ breakerThreshold: 3, breakerSeconds: 3600 }));
    expect((await call("GET", `/v1/webhooks/${failing.id}`)).body.status).toBe("active");
    const after = (await call("GET", `/v1/webhooks/${failing.id}/deliveries`)).body.data as { status: string }[];
    expect(after.map((d) => d.status)).toEqual(Array(5).fill("delivered"));
  });

  test("a delivery whose worker died mid-call is sent again by another worker once its lease is past", async () => {
    await hook("/lease", ["issue.created"]);
    await call("POST", "/v1/issues", { title: "Worker killed" });
    // A worker claims it and dies before recording anything (its lease: one second).
    const claimed = await db.app.query<{ id: string }>("select id from claim_deliveries('dead-worker', 10, 1)");
    expect(claimed).toHaveLength(1);
    await deliverAll();
    expect(at("/lease")).toHaveLength(0); // still leased to the dead worker
    await Bun.sleep(1100);
    await deliverAll();
    expect(at("/lease")).toHaveLength(1);
  });

  test("a rotated secret: the new and the previous secret both sign during the overlap", async () => {
    const rotating = await hook("/rotating", ["issue.created"]);
    const rotated = await call("POST", `/v1/webhooks/${rotating.id}/rotate-secret`, { overlap_hours: 1 });
    expect(rotated.status).toBe(200);
    const secret = rotated.body.secret as string;
    expect(secret).not.toBe(rotating.secret);
    await call("POST", "/v1/issues", { title: "Rotation" });
    await deliverAll();
    const [event] = at("/rotating");
    expect(new Webhook(secret).verify(event?.raw as string, event?.headers as Record<string, string>)).toBeTruthy();
    expect(
      new Webhook(rotating.secret).verify(event?.raw as string, event?.headers as Record<string, string>),
    ).toBeTruthy();
    // No overlap: the old secret stops signing at once.
    const again = await call("POST", `/v1/webhooks/${rotating.id}/rotate-secret`, { overlap_hours: 0 });
    await call("POST", "/v1/issues", { title: "Rotation 2" });
    await deliverAll();
    const second = at("/rotating")[1] as Received;
    expect(new Webhook(again.body.secret as string).verify(second.raw, second.headers)).toBeTruthy();
    expect(() => new Webhook(secret).verify(second.raw, second.headers)).toThrow();
  });

  test("410 Gone disables the webhook; unknown event names and unusable secrets are refused", async () => {
    const gone = await hook("/gone", ["issue.created"]);
    plan.set("/gone", [410]);
    await call("POST", "/v1/issues", { title: "Gone" });
    await deliverAll();
    expect(at("/gone")).toHaveLength(1);
    expect((await call("GET", `/v1/webhooks/${gone.id}`)).body.status).toBe("disabled");
    await call("POST", "/v1/issues", { title: "After gone" });
    await deliverAll();
    expect(at("/gone")).toHaveLength(1);

    const url = `http://127.0.0.1:${receiver.port}/x`;
    const unknown = await call("POST", "/v1/webhooks", { url, events: ["issue.exploded"] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.detail).toContain('unknown event "issue.exploded"');
    const weak = await call("POST", "/v1/webhooks", { url, secret: "not-a-standard-secret" });
    expect(weak.status).toBe(422);
    expect(String(weak.body.detail)).not.toContain("not-a-standard-secret");
  });

  test("events carry no email address, and sent events are pruned after their keeping time", async () => {
    const pii = await hook("/pii", ["issue.created"]);
    await call("POST", "/v1/issues", { title: "Reported by a customer", reporter_email: "jane.doe@example.org" });
    await deliverAll();
    const [event] = at("/pii");
    expect(event?.body.data).toMatchObject({ title: "Reported by a customer" });
    expect(event?.raw).not.toContain("jane.doe");
    expect(event?.body.data).not.toHaveProperty("reporter_email");

    await db.owner.query(
      "update webhook_deliveries set delivered_at = now() - interval '8 days' where webhook_id = $1",
      [pii.id],
    );
    expect(await pruneDeliveries(db.app, { deliveredDays: 7, deadDays: 30 })).toBeGreaterThanOrEqual(1);
    expect((await call("GET", `/v1/webhooks/${pii.id}/deliveries`)).body.data).toEqual([]);
  });
});
