// Ingestion end to end, on both engines: each vendor's documented sample, signed as that vendor signs, posted to
// its inbound webhook's receiving URL becomes a normalized event, an activity event on the issue's timeline and
// an issue; refused requests (no, wrong or stale signature) store nothing; a replayed event is kept once; a
// resolution closes the issue; connectors move pending -> active -> error -> active.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { signedHeaders } from "../../src/delivery/signing.ts";
import { causeloopSignature } from "../../src/ingestion/signatures.ts";
import { SOURCES, type Source } from "../../src/ingestion/adapters/index.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { apiDeps } from "../helpers/app.ts";
import { localLimiter } from "../../src/http/edge/rate-limit.ts";

interface Hook {
  id: string;
  url: string;
  signing_secret: string;
}
type Answer = { status: number; body: Record<string, unknown> & { code?: string } };

const sample = (name: string) => Bun.file(`test/fixtures/vendors/${name}.json`).text();
const hmacHex = (secret: string, text: string) => new Bun.CryptoHasher("sha256", secret).update(text).digest("hex");

/** The headers each vendor sends: its own scheme where it has one, else ours or Standard Webhooks. */
function vendorHeaders(source: Source, secret: string, raw: string, at = new Date()): Record<string, string> {
  switch (source) {
    case "sentry":
      return { "sentry-hook-signature": hmacHex(secret, raw), "sentry-hook-resource": "event_alert" };
    case "github":
      return {
        "x-hub-signature-256": `sha256=${hmacHex(secret, raw)}`,
        "x-github-event": "workflow_run",
        "x-github-delivery": crypto.randomUUID(),
      };
    case "pagerduty":
      return { "x-pagerduty-signature": `v1=${hmacHex(secret, raw)}` };
    case "grafana": {
      const ts = String(Math.floor(at.getTime() / 1000));
      return { "x-grafana-alerting-signature": hmacHex(secret, `${ts}:${raw}`), "x-grafana-alerting-timestamp": ts };
    }
    case "alertmanager":
    case "opsgenie":
      return { "x-causeloop-signature": causeloopSignature(secret, raw, at) };
    default:
      return signedHeaders(`msg_${crypto.randomUUID()}`, raw, [secret], at);
  }
}

describeEngines("ingestion", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  let beta: OnboardResult;
  let kek: LocalKeyRing;

  const call = async (method: string, path: string, body?: unknown, token = acme.admin_token): Promise<Answer> => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      }),
    );
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  const inbound = async (source: Source, token = acme.admin_token): Promise<Hook> => {
    const created = await call("POST", "/v1/inbound-webhooks", { source }, token);
    expect(created.status).toBe(201);
    return created.body as unknown as Hook;
  };
  const deliver = async (hook: Hook, raw: string, headers: Record<string, string>): Promise<Answer> => {
    const response = await app.fetch(
      new Request(hook.url, { method: "POST", body: raw, headers: { "content-type": "application/json", ...headers } }),
    );
    return { status: response.status, body: (await response.json()) as Answer["body"] };
  };
  const send = (hook: Hook, source: Source, raw: string) =>
    deliver(hook, raw, vendorHeaders(source, hook.signing_secret, raw));
  const stored = async () => {
    const [row] = await db.owner.query<{ events: number; activity: number; issues: number }>(
      `select (select count(*)::int from ingested_events where workspace_id = $1) as events,
              (select count(*)::int from activity_events where workspace_id = $1) as activity,
              (select count(*)::int from issues where workspace_id = $1) as issues`,
      [acme.workspace_id],
    );
    return row;
  };
  const issue = async (id: string) => (await call("GET", `/v1/issues/${id}`)).body;
  const timeline = async (issueId: string) =>
    (await call("GET", `/v1/issues/${issueId}/activity`)).body.data as {
      kind: string;
      actor_type: string;
      payload: Record<string, unknown>;
    }[];

  beforeAll(async () => {
    db = await createTestDb(kind);
    kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    beta = await onboard(db.owner, { slug: "beta", name: "Beta", adminEmail: "ops@beta.com" }, kek);
    app = createApp(apiDeps(db, kek));
  });
  afterAll(() => db.dispose());

  test("every adapter: the vendor's sample, signed its way, becomes an event, an activity event and an issue", async () => {
    for (const source of SOURCES) {
      const hook = await inbound(source);
      expect(hook.url).toMatch(/^http:\/\/localhost\/v1\/hooks\/clp_hook_[0-9a-z]{26}_[0-9a-f]{64}_[0-9a-f]{8}$/);
      expect(hook.signing_secret).toStartWith("whsec_");
      const answer = await send(hook, source, await sample(source));
      expect({ source, status: answer.status, accepted: answer.body.accepted }).toEqual({
        source,
        status: 200,
        accepted: 1,
      });
      const [result] = answer.body.events as { id: string; issue_id: string; issue_action: string }[];
      expect(result?.issue_action).toBe("opened");
      const [event] = await db.owner.query<Record<string, unknown>>(
        "select source, inbound_webhook_id, title, status, issue_id, activity_event_id from ingested_events where workspace_id = $1 and id = $2",
        [acme.workspace_id, result?.id],
      );
      expect(event).toMatchObject({
        source,
        inbound_webhook_id: hook.id,
        status: "firing",
        issue_id: result?.issue_id,
      });
      const opened = await issue(result?.issue_id as string);
      expect({ source, status: opened.status, title: opened.title }).toEqual({
        source,
        status: "open",
        title: event?.title,
      });
      const [entry] = await timeline(result?.issue_id as string);
      expect(entry).toMatchObject({ kind: "event.firing", actor_type: "integration" });
      expect(entry?.payload).toMatchObject({ event_id: result?.id, source, issue_action: "opened" });
    }
  });

  test("no, a wrong or another webhook's signature is 401 and stores nothing", async () => {
    const hook = await inbound("pagerduty");
    const other = await inbound("pagerduty");
    const raw = await sample("pagerduty");
    const before = await stored();
    const attempts: Record<string, string>[] = [
      {},
      { "x-pagerduty-signature": `v1=${hmacHex("whsec_wrong", raw)}` },
      { "x-pagerduty-signature": `v1=${hmacHex(other.signing_secret, raw)}` },
      { "x-causeloop-signature": "t=1,v1=00" },
      // A signature of another vendor's scheme means nothing here.
      { "x-hub-signature-256": `sha256=${hmacHex(hook.signing_secret, raw)}` },
    ];
    for (const headers of attempts) {
      const answer = await deliver(hook, raw, headers);
      expect({ headers, status: answer.status, code: answer.body.code }).toEqual({
        headers,
        status: 401,
        code: "unauthorized",
      });
    }
    // The body signed, then changed: refused.
    const signed = vendorHeaders("pagerduty", hook.signing_secret, raw);
    expect((await deliver(hook, raw.replace("A little bump", "A huge bump"), signed)).status).toBe(401);
    expect(await stored()).toEqual(before);
  });

  test("a timestamp outside 5 minutes is refused (ours and Standard Webhooks); inside it is accepted", async () => {
    const hook = await inbound("generic");
    const raw = JSON.stringify({ title: "Replay check", event_id: "replay-1" });
    const before = await stored();
    const old = new Date(Date.now() - 6 * 60_000);
    const future = new Date(Date.now() + 6 * 60_000);
    for (const headers of [
      { "x-causeloop-signature": causeloopSignature(hook.signing_secret, raw, old) },
      signedHeaders("msg_old", raw, [hook.signing_secret], old),
      signedHeaders("msg_future", raw, [hook.signing_secret], future),
    ]) {
      const answer = await deliver(hook, raw, headers);
      expect(answer.status).toBe(401);
      expect(String(answer.body.detail)).toContain("5 minutes");
    }
    expect(await stored()).toEqual(before);
    const recent = new Date(Date.now() - 4 * 60_000);
    expect((await deliver(hook, raw, signedHeaders("msg_ok", raw, [hook.signing_secret], recent))).status).toBe(200);
  });

  test("a replayed vendor event id is accepted once", async () => {
    const hook = await inbound("pagerduty");
    const raw = (await sample("pagerduty")).replace("5ac64822-4adc-4fda-ade0-410becf0de4f", "replayed-event-1");
    const first = await send(hook, "pagerduty", raw);
    const before = await stored();
    const again = await send(hook, "pagerduty", raw);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((again.body.events as { id: string }[])[0]?.id).toBe((first.body.events as { id: string }[])[0]?.id);
    expect(await stored()).toEqual(before);
  });

  test("a resolution closes the issue (and announces it); firing again reopens it", async () => {
    await call("POST", "/v1/webhooks", { url: "https://hooks.example.com/ingest", events: ["issue.*"] });
    const hook = await inbound("alertmanager");
    const payload = JSON.parse(await sample("alertmanager")) as { alerts: Record<string, unknown>[] };
    const alert = { ...payload.alerts[0], fingerprint: "resolve-check-1" };
    const post = (status: string, startsAt: string, endsAt = "0001-01-01T00:00:00Z") =>
      send(
        hook,
        "alertmanager",
        JSON.stringify({ ...payload, status, alerts: [{ ...alert, status, startsAt, endsAt }] }),
      );
    const firing = await post("firing", "2024-05-01T09:12:30Z");
    const issueId = (firing.body.events as { issue_id: string }[])[0]?.issue_id as string;
    const repeat = await post("firing", "2024-05-01T09:12:30Z");
    expect(repeat.body).toMatchObject({ duplicates: 1 });
    const resolved = await post("resolved", "2024-05-01T09:12:30Z", "2024-05-01T09:40:00Z");
    expect((resolved.body.events as { issue_action: string }[])[0]?.issue_action).toBe("resolved");
    expect(await issue(issueId)).toMatchObject({
      status: "resolved",
      source: "alertmanager",
      first_seen_at: "2024-05-01T09:12:30.000Z",
      resolved_at: "2024-05-01T09:40:00.000Z",
    });
    const reopened = await post("firing", "2024-05-01T11:00:00Z");
    expect((reopened.body.events as { issue_id: string; issue_action: string }[])[0]).toEqual(
      expect.objectContaining({ issue_id: issueId, issue_action: "reopened" }),
    );
    expect(await issue(issueId)).toMatchObject({
      status: "open",
      resolved_at: null,
      last_seen_at: "2024-05-01T11:00:00.000Z",
    });
    expect((await timeline(issueId)).map((e) => [e.kind, e.payload.issue_action])).toEqual([
      ["event.firing", "reopened"],
      ["event.resolved", "resolved"],
      ["event.firing", "opened"],
    ]);
    const events = await db.owner.query<{ event_type: string; issue: string }>(
      "select event_type, payload->'data'->>'id' as issue from webhook_deliveries where workspace_id = $1 order by id",
      [acme.workspace_id],
    );
    // Two events of one transaction may share a millisecond (their ids' order): compare them as a set.
    expect(
      events
        .filter((e) => e.issue === issueId)
        .map((e) => e.event_type)
        .sort(),
    ).toEqual(["issue.created", "issue.resolved", "issue.updated", "issue.updated"]);
  });

  test("first events of one fingerprint arriving at once open one issue", async () => {
    const hook = await inbound("generic");
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(hook, "generic", JSON.stringify({ title: "Burst", fingerprint: "burst-1", event_id: `burst-${i}` })),
      ),
    );
    const issues = new Set(answers.map((a) => (a.body.events as { issue_id: string }[])[0]?.issue_id));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(issues.size).toBe(1);
  });

  test("events without a fingerprint group by their cluster: the same problem whatever its numbers, hosts and ids", async () => {
    const hook = await inbound("generic");
    const post = (title: string) => send(hook, "generic", JSON.stringify({ title, event_id: crypto.randomUUID() }));
    const a = await post("Job 1234 failed on 10.0.0.7 (run 7f3a9c2e-1b2d-4c5e-8f90-1234567890ab)");
    const b = await post("Job 98 failed on 10.0.0.9 (run 00000000-1b2d-4c5e-8f90-1234567890ab)");
    const c = await post("Backup failed on db-1");
    const issueOf = (answer: Answer) => (answer.body.events as { issue_id: string }[])[0]?.issue_id;
    expect(issueOf(a)).toBe(issueOf(b) as string);
    expect(issueOf(c)).not.toBe(issueOf(a) as string);
    expect((b.body.events as { issue_action: string }[])[0]?.issue_action).toBe("updated");
    // The issue belongs to the cluster, whose template shows what varies.
    const clusters = await call("GET", "/v1/clusters?q=failed%20on");
    const cluster = (clusters.body.data as { template: string; issue_ids: string[]; event_count: number }[]).find((x) =>
      x.issue_ids.includes(issueOf(a) as string),
    );
    expect(cluster?.template).toMatch(/^Job <\*> failed on <\*>/);
    expect(cluster?.event_count).toBe(2);
  });

  test("bodies that are not JSON or not the vendor's shape are refused after the signature, storing nothing", async () => {
    const hook = await inbound("datadog");
    const before = await stored();
    const garbage = "{not json";
    expect((await send(hook, "datadog", garbage)).body.code).toBe("invalid_json");
    const wrongShape = await send(hook, "datadog", JSON.stringify({ hello: "world" }));
    expect(wrongShape).toMatchObject({ status: 422, body: { code: "validation_failed" } });
    expect(String(wrongShape.body.detail)).toContain("datadog.title");
    expect(await stored()).toEqual(before);
  });

  test("a URL that names no webhook, or another workspace's, is 404; a deleted connector's URL stops receiving", async () => {
    const raw = await sample("generic");
    const hook = await inbound("generic");
    const missing = { ...hook, url: hook.url.replace(/_[0-9a-f]{8}$/, "_00000000") };
    expect((await deliver(missing, raw, vendorHeaders("generic", hook.signing_secret, raw))).status).toBe(404);
    const betaHook = await inbound("generic", beta.admin_token);
    // Beta's token with Acme's workspace in it fails its checksum: 404 before any database work.
    const spliced = { ...betaHook, url: betaHook.url.replace(beta.workspace_id.slice(3), acme.workspace_id.slice(3)) };
    expect((await deliver(spliced, raw, vendorHeaders("generic", betaHook.signing_secret, raw))).status).toBe(404);
    const connector = await call("POST", "/v1/connectors", { type: "generic", display_name: "Generic", config: {} });
    const connectorHook = connector.body.inbound_webhook as Hook;
    expect(await call("DELETE", `/v1/connectors/${connector.body.id}`)).toMatchObject({ status: 204 });
    expect((await send(connectorHook, "generic", raw)).status).toBe(404);
  });

  test("a receiving URL is rate limited as a credential of its workspace, not by the sender's address", async () => {
    const limited = createApp(
      apiDeps(db, kek, { limits: { limiter: localLimiter(), perCredential: 3, perWorkspace: 1000, perAddress: 1 } }),
    );
    const hook = await inbound("generic");
    const other = await inbound("generic");
    const post = async (target: Hook, i: number) => {
      const raw = JSON.stringify({ title: "Limited", event_id: `limited-${target.id}-${i}` });
      const response = await limited.fetch(
        new Request(target.url, {
          method: "POST",
          body: raw,
          headers: { "content-type": "application/json", ...vendorHeaders("generic", target.signing_secret, raw) },
        }),
        "203.0.113.9",
      );
      return { status: response.status, policy: response.headers.get("ratelimit-policy") };
    };
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(hook, i));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]?.policy).toBe('"credential";q=3;w=60, "workspace";q=1000;w=60');
    expect((await post(other, 0)).status).toBe(200);
  });

  test("changes made through the API write the issue's timeline too", async () => {
    const created = await call("POST", "/v1/issues", { title: "Manual issue", severity: "low" });
    const id = created.body.id as string;
    await call("PATCH", `/v1/issues/${id}`, { status: "investigating", severity: "high" });
    const entries = await timeline(id);
    expect(entries.map((e) => e.kind)).toEqual(["issue.updated", "issue.created"]);
    expect(entries[0]?.actor_type).toBe("user");
    expect(entries[0]?.payload).toEqual({
      changes: { status: { from: "open", to: "investigating" }, severity: { from: "low", to: "high" } },
    });
    // Another workspace's issue: 404.
    expect((await call("GET", `/v1/issues/${id}/activity`, undefined, beta.admin_token)).status).toBe(404);
  });

  describe("connectors", () => {
    test("the catalogue says which products send events here", async () => {
      const catalogue = await call("GET", "/v1/connectors/catalogue");
      expect(catalogue.status).toBe(200);
      const bySlug = new Map(
        (catalogue.body.data as { slug: string; inbound: boolean; signature_schemes: string[] }[]).map((e) => [
          e.slug,
          e,
        ]),
      );
      expect(bySlug.get("sentry")).toMatchObject({
        inbound: true,
        signature_schemes: ["sentry", "standard_webhooks", "causeloop"],
      });
      expect(bySlug.get("alertmanager")).toMatchObject({
        inbound: true,
        signature_schemes: ["standard_webhooks", "causeloop"],
      });
      expect(bySlug.get("slack")).toMatchObject({ inbound: false, signature_schemes: [] });
      for (const source of SOURCES)
        expect({ source, inbound: bySlug.get(source)?.inbound }).toEqual({ source, inbound: true });
    });

    test("an inbound connector shows its URL and secret once, and goes pending -> active -> error -> active", async () => {
      const created = await call("POST", "/v1/connectors", { type: "grafana", display_name: "Grafana", config: {} });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ type: "grafana", status: "pending" });
      const hook = created.body.inbound_webhook as Hook;
      expect(hook.url).toContain("/v1/hooks/clp_hook_");
      const read = await call("GET", `/v1/connectors/${created.body.id}`);
      expect(read.body.inbound_webhook).toBeUndefined();
      expect(JSON.stringify(read.body)).not.toContain(hook.signing_secret);
      const status = async () => (await call("GET", `/v1/connectors/${created.body.id}`)).body;
      const raw = await sample("grafana");
      expect((await send(hook, "grafana", raw)).status).toBe(200);
      expect(await status()).toMatchObject({ status: "active", last_error: null });
      const wrong = { "x-causeloop-signature": causeloopSignature("whsec_not_the_secret", raw) };
      for (let i = 0; i < 2; i++) expect((await deliver(hook, raw, wrong)).status).toBe(401);
      expect(await status()).toMatchObject({ status: "active" });
      expect((await deliver(hook, raw, wrong)).status).toBe(401);
      const failing = await status();
      expect(failing).toMatchObject({ status: "error" });
      expect(String(failing.last_error)).toContain("signature invalid");
      expect((await send(hook, "grafana", raw.replace("57c6d9296de2ad39", "another-alert"))).status).toBe(200);
      expect(await status()).toMatchObject({ status: "active", last_error: null });
      // Disabled, its URL receives nothing; enabled again, it does.
      await call("PATCH", `/v1/connectors/${created.body.id}`, { status: "disabled" });
      expect((await send(hook, "grafana", raw.replace("57c6d9296de2ad39", "third-alert"))).status).toBe(404);
      await call("PATCH", `/v1/connectors/${created.body.id}`, { status: "active" });
      expect((await send(hook, "grafana", raw.replace("57c6d9296de2ad39", "third-alert"))).status).toBe(200);
      // A product that does not send events gets no receiving URL.
      const slack = await call("POST", "/v1/connectors", { type: "slack", display_name: "Slack", config: {} });
      expect(slack.body.inbound_webhook).toBeUndefined();
    });
  });
});
