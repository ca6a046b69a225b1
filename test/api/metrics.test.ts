// Prometheus metrics as an operator sees them: GET /metrics on the API port only with the metrics token (404
// without one configured), a listener of its own when CAUSELOOP_METRICS_ADDR is set, and families that move
// with what the server does: requests by route template, 429s by policy, 401s by reason, the job queue, the
// scheduler, unsigned audit events, the pool and the tenant transactions.
import { appendOperatorLog } from "../../src/audit/operator-log.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseMetricsAddress } from "../../src/config.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { localLimiter } from "../../src/http/edge/rate-limit.ts";
import type { RateLimits } from "../../src/http/app.ts";
import { enqueue } from "../../src/jobs/queue.ts";
import { createLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { startMetricsListener } from "../../src/observability/listener.ts";
import { startServer } from "../../src/server.ts";
import { newId } from "../../src/ids.ts";
import { describeEngines } from "../helpers/db.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import { HARNESS_METRICS_TOKEN, ownerApp, type OwnerApp } from "../helpers/routes.ts";

type Labels = Record<string, string>;

/** The value of one sample of the exposition text (0 when the series is absent). */
function sample(text: string, name: string, labels: Labels = {}): number {
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Labels = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      found[pair[1] as string] = pair[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

const has = (text: string, name: string, labels: Labels = {}) =>
  text
    .split("\n")
    .some((line) => line.startsWith(name) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));

describeEngines("metrics on the API port", (kind) => {
  let h: OwnerApp;
  let contract: Contract;
  const limits: RateLimits = { limiter: localLimiter(), perCredential: 1000, perWorkspace: 1000, perAddress: 1000 };
  const call = async (method: string, path: string, authorization?: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      "192.0.2.10",
    );
    return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() };
  };
  const scrape = async () => {
    const answer = await call("GET", "/metrics", `Bearer ${HARNESS_METRICS_TOKEN}`);
    expect(answer.status).toBe(200);
    expect(contract.check("GET", "/metrics", answer.status, answer.type, answer.text)).toEqual([]);
    return answer.text;
  };

  beforeAll(async () => {
    h = await ownerApp(kind, { metrics: true, limits: () => limits });
    contract = await loadContract(h.app);
  });
  afterAll(() => h.dispose());

  test("the metrics token is required: none or a wrong one is a 401 problem, counted; the right one is text", async () => {
    const before = await scrape();
    for (const authorization of [
      undefined,
      "Bearer wrong-token-0123456789",
      `Bearer ${HARNESS_METRICS_TOKEN}x`,
      h.token,
    ]) {
      const answer = await call("GET", "/metrics", authorization === h.token ? `Bearer ${h.token}` : authorization);
      expect(answer.status).toBe(401);
      expect(answer.type).toStartWith("application/problem+json");
      expect(JSON.parse(answer.text)).toMatchObject({ code: "unauthorized" });
      expect(answer.text).not.toContain(HARNESS_METRICS_TOKEN);
      expect(contract.check("GET", "/metrics", answer.status, answer.type, answer.text)).toEqual([]);
    }
    const after = await scrape();
    const refused = (text: string) => sample(text, "causeloop_auth_failures_total", { reason: "metrics_token" });
    expect(refused(after) - refused(before)).toBe(4);
    expect(after).toStartWith("# HELP");
    expect(has(after, "process_cpu_seconds_total")).toBe(true);
  });

  test("requests move the counters and histograms of their route template, never of a raw path", async () => {
    const token = `Bearer ${h.token}`;
    const issue = JSON.parse((await call("POST", "/v1/issues", token, { title: "Metrics" })).text) as { id: string };
    const before = await scrape();
    for (let i = 0; i < 5; i++) expect((await call("GET", "/v1/issues", token)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await call("GET", `/v1/issues/${issue.id}`, token)).status).toBe(200);
    expect((await call("GET", `/v1/issues/${newId("iss")}`, token)).status).toBe(404);
    expect((await call("GET", "/no/such/path/4711", token)).status).toBe(404);
    const after = await scrape();

    const list = { method: "GET", route: "/v1/issues", status: "200" };
    const one = { method: "GET", route: "/v1/issues/:id", status: "200" };
    const delta = (name: string, labels: Labels) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta("causeloop_http_requests_total", list)).toBe(5);
    expect(delta("causeloop_http_request_duration_seconds_count", list)).toBe(5);
    expect(delta("causeloop_http_requests_total", one)).toBe(3);
    expect(delta("causeloop_http_requests_total", { ...one, status: "404" })).toBe(1);
    expect(delta("causeloop_http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBe(1);
    expect(after).not.toContain(issue.id);
    expect(after).not.toContain("4711");
    // Every request above entered the tenant door once (reads hold one transaction), and committed.
    expect(
      delta("causeloop_db_tenant_transaction_duration_seconds_count", { outcome: "committed" }),
    ).toBeGreaterThanOrEqual(8);
    expect(sample(after, "causeloop_db_pool_size")).toBeGreaterThanOrEqual(1);
    expect(has(after, "causeloop_db_pool_in_use")).toBe(true);
    expect(has(after, "causeloop_db_pool_waiting")).toBe(true);
    expect(sample(after, "causeloop_metrics_database_up")).toBe(1);
  });

  test("a 429 counts under the policy that refused it", async () => {
    limits.limiter = localLimiter();
    limits.perAddress = 2;
    const before = await scrape();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call("GET", "/v1/issues")).status);
    expect(statuses).toEqual([401, 401, 429, 429]);
    const after = await scrape();
    limits.perAddress = 1000;
    const rejected = (text: string) => sample(text, "causeloop_rate_limit_rejections_total", { reason: "address" });
    expect(rejected(after) - rejected(before)).toBe(2);
    expect(has(after, "causeloop_rate_limit_store_failures_total")).toBe(true);
  });

  test("a 401 counts under its reason: no credential, not a bearer token, a refused one, a failed sign-in", async () => {
    const before = await scrape();
    expect((await call("GET", "/v1/issues")).status).toBe(401);
    expect((await call("GET", "/v1/issues", "Basic dXNlcjpwYXNz")).status).toBe(401);
    expect((await call("GET", "/v1/issues", "Bearer clp_pat_not-a-real-token-at-all")).status).toBe(401);
    expect((await call("GET", "/v1/issues", "Bearer clp_pat_another-made-up-token")).status).toBe(401);
    const login = await call("POST", "/v1/auth/login", undefined, {
      email: "owner@acme.example",
      password: "wrong-1234567",
    });
    expect(login.status).toBe(401);
    const after = await scrape();
    const delta = (reason: string) =>
      sample(after, "causeloop_auth_failures_total", { reason }) -
      sample(before, "causeloop_auth_failures_total", { reason });
    expect({
      missing: delta("credential_missing"),
      malformed: delta("credential_malformed"),
      rejected: delta("credential_rejected"),
      login: delta("login_failed"),
    }).toEqual({ missing: 1, malformed: 1, rejected: 2, login: 1 });
  });

  test("the job queue, the scheduler and unsigned audit events are read at scrape time", async () => {
    const ws = h.tenant.workspace_id;
    const before = await scrape();
    expect(sample(before, "causeloop_job_queue_depth", { kind: "metrics.probe" })).toBe(0);
    await withTenant(h.db.app, ws, (tx) => enqueue(tx, ws, "metrics.probe", {}));
    await withTenant(h.db.app, ws, (tx) => enqueue(tx, ws, "metrics.probe", {}));
    await h.db.owner.query(
      "update jobs set run_at = now() - interval '90 seconds' where workspace_id = $1 and kind = 'metrics.probe'",
      [ws],
    );
    const finished = new Date(Date.now() - 3_600_000);
    await h.db.owner.query(
      "insert into scheduler_runs (id, job, slot, instance, outcome, finished_at) values ($1, 'metrics.nightly', $2, 'test', 'succeeded', $2)",
      [newId("run"), finished.toISOString()],
    );
    const after = await scrape();
    expect(sample(after, "causeloop_job_queue_depth", { kind: "metrics.probe" })).toBe(2);
    expect(
      sample(after, "causeloop_job_queue_oldest_due_age_seconds", { kind: "metrics.probe" }),
    ).toBeGreaterThanOrEqual(89);
    expect(sample(after, "causeloop_scheduler_last_success_timestamp_seconds", { job: "metrics.nightly" })).toBeCloseTo(
      finished.getTime() / 1000,
      0,
    );
    // The issues created above are audited and not signed yet: the workspace's chain lags.
    expect(sample(after, "causeloop_audit_unsigned_events", { chain: ws })).toBeGreaterThan(0);
    expect(has(after, "causeloop_audit_unsigned_events", { chain: "operator" })).toBe(true);
  });

  test("the delivery outbox: events still to send, dead letters, open circuits", async () => {
    const ws = h.tenant.workspace_id;
    const before = await scrape();
    expect(sample(before, "causeloop_delivery_queue_depth", {})).toBe(0);
    const hook = newId("whk");
    await h.db.owner.query(
      "insert into webhooks (workspace_id, id, url, events) values ($1, $2, 'https://h.example/x', '{}')",
      [ws, hook],
    );
    await h.db.owner.query(
      `insert into webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload, status, next_attempt_at)
       values ($1, $2, $3, 'msg_a', 'issue.created', '{}', 'pending', now() - interval '30 seconds'),
              ($1, $4, $3, 'msg_b', 'issue.created', '{}', 'dead', now())`,
      [ws, newId("dlv"), hook, newId("dlv")],
    );
    await h.db.owner.query("update webhooks set circuit_open_until = now() + interval '1 hour' where id = $1", [hook]);
    const after = await scrape();
    expect(sample(after, "causeloop_delivery_queue_depth", {})).toBe(1);
    expect(sample(after, "causeloop_delivery_dead_letters", {})).toBe(1);
    expect(sample(after, "causeloop_delivery_oldest_due_age_seconds", {})).toBeGreaterThanOrEqual(29);
    expect(sample(after, "causeloop_delivery_circuits_open", {})).toBe(1);
    expect(has(after, "causeloop_delivery_attempts_total", { outcome: "dead" })).toBe(true);
  });

  test("the last backup and the last verified one, from the operator log", async () => {
    const log = (action: "backup.created" | "backup.verified" | "backup.failed", after?: Record<string, unknown>) =>
      appendOperatorLog(h.db.owner, { action, actor: "test", targetType: "backup", targetId: newId("bkp"), after });
    expect(sample(await scrape(), "causeloop_backup_last_success_timestamp_seconds", {})).toBe(0);
    await log("backup.created");
    await log("backup.verified", { ok: false });
    const after = await scrape();
    expect(sample(after, "causeloop_backup_last_success_timestamp_seconds", {})).toBeCloseTo(Date.now() / 1000, -2);
    // A verification that failed is no verified backup.
    expect(sample(after, "causeloop_backup_last_verified_timestamp_seconds", {})).toBe(0);
    expect(sample(after, "causeloop_backup_last_drill_success", {})).toBe(0);
    await log("backup.failed");
    await log("backup.verified", { ok: true });
    const later = await scrape();
    expect(sample(later, "causeloop_backup_last_drill_success", {})).toBe(1);
    expect(sample(later, "causeloop_backup_last_failure_timestamp_seconds", {})).toBeCloseTo(Date.now() / 1000, -2);
  });
});

describeEngines("metrics unconfigured", (kind) => {
  let h: OwnerApp;
  beforeAll(async () => {
    h = await ownerApp(kind);
  });
  afterAll(() => h.dispose());

  test("without a metrics token the API port has no /metrics, whatever the caller sends", async () => {
    for (const authorization of [undefined, `Bearer ${HARNESS_METRICS_TOKEN}`, `Bearer ${h.token}`]) {
      const response = await h.app.fetch(
        new Request("http://localhost/metrics", { headers: authorization ? { authorization } : {} }),
      );
      expect(response.status).toBe(404);
    }
    const document = (await (await h.app.fetch(new Request("http://localhost/openapi.json"))).json()) as {
      paths: Record<string, unknown>;
    };
    expect(document.paths["/metrics"]).toBeUndefined();
  });
});

describe("metrics listener", () => {
  test("serves GET /metrics only; with a token it requires it", async () => {
    const metrics = createMetrics();
    metrics.request("GET", "/v1/issues", 200, 0.01);
    const open = startMetricsListener({ host: "127.0.0.1", port: 0 }, metrics, {
      logger: createLogger("error", () => {}),
    });
    const guarded = startMetricsListener({ host: "127.0.0.1", port: 0 }, metrics, {
      token: "listener-token-0123456789",
      logger: createLogger("error", () => {}),
    });
    try {
      const scraped = await fetch(open.url);
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get("content-type")).toStartWith("text/plain");
      expect(sample(await scraped.text(), "causeloop_http_requests_total", { route: "/v1/issues" })).toBe(1);
      expect((await fetch(open.url, { method: "POST" })).status).toBe(405);
      expect((await fetch(open.url.replace("/metrics", "/v1/issues"))).status).toBe(404);

      expect((await fetch(guarded.url)).status).toBe(401);
      expect((await fetch(guarded.url, { headers: { authorization: "Bearer nope-nope-nope-nope" } })).status).toBe(401);
      const ok = await fetch(guarded.url, { headers: { authorization: "Bearer listener-token-0123456789" } });
      expect(ok.status).toBe(200);
      expect(sample(await ok.text(), "causeloop_auth_failures_total", { reason: "metrics_token" })).toBe(2);
    } finally {
      await open.stop();
      await guarded.stop();
    }
  });
});

describe("serve with metrics", () => {
  const TOKEN = "serve-metrics-token-0123456789abcdef";
  const serve = async (env: Record<string, string>) => {
    const dataDir = mkdtempSync(join(tmpdir(), "causeloop-metrics-"));
    const lines: string[] = [];
    const config = loadConfig({
      CAUSELOOP_DATA_DIR: dataDir,
      CAUSELOOP_PORT: "0",
      CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "3600",
      ...env,
    });
    const server = await startServer(
      config,
      createLogger("info", (line) => lines.push(line)),
    );
    return {
      server,
      lines,
      stop: async () => {
        await server.shutdown("test");
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };

  test("CAUSELOOP_METRICS_ADDR: a listener of its own, /metrics still 404 on the API port", async () => {
    const s = await serve({ CAUSELOOP_METRICS_ADDR: "127.0.0.1:0" });
    try {
      expect(s.server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await fetch(`${s.server.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${s.server.url}/healthz`)).status).toBe(200);
      const text = await (await fetch(s.server.metricsUrl as string)).text();
      expect(sample(text, "causeloop_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
      expect(sample(text, "causeloop_http_requests_total", { route: "/healthz", status: "200" })).toBe(1);
      expect(sample(text, "causeloop_db_pool_size")).toBe(1);
      expect(sample(text, "causeloop_metrics_database_up")).toBe(1);
      expect(has(text, "causeloop_job_queue_depth", { kind: "export.build" })).toBe(true);
    } finally {
      await s.stop();
    }
  });

  test("CAUSELOOP_METRICS_TOKEN: /metrics on the API port with the token only, and the token is never logged", async () => {
    const s = await serve({ CAUSELOOP_METRICS_TOKEN: TOKEN });
    try {
      expect(s.server.metricsUrl).toBeUndefined();
      expect((await fetch(`${s.server.url}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${s.server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN.slice(1)}` } });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${s.server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(sample(await ok.text(), "causeloop_auth_failures_total", { reason: "metrics_token" })).toBe(2);
    } finally {
      await s.stop();
    }
    expect(s.lines.length).toBeGreaterThan(0);
    expect(s.lines.filter((line) => line.includes(TOKEN) || line.includes(TOKEN.slice(1)))).toEqual([]);
  });
});

describe("metrics settings", () => {
  test("addresses are host:port with an explicit host; a bad one is one clear line", () => {
    expect(parseMetricsAddress("127.0.0.1:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseMetricsAddress("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseMetricsAddress("metrics.internal:0")).toEqual({ host: "metrics.internal", port: 0 });
    expect(parseMetricsAddress(undefined)).toBeUndefined();
    for (const bad of [":9464", "9464", "127.0.0.1", "127.0.0.1:99999", "http://127.0.0.1:9464", "::1:9464"])
      expect(() => parseMetricsAddress(bad)).toThrow(/CAUSELOOP_METRICS_ADDR must be host:port/);
    expect(() => loadConfig({ CAUSELOOP_METRICS_ADDR: "127.0.0.1:8080" })).toThrow(/port of its own/);
  });

  test("a token too short or with spaces is refused without echoing it", () => {
    for (const token of ["short-secret", "has a space in it 0123456789"]) {
      let message = "";
      try {
        loadConfig({ CAUSELOOP_METRICS_TOKEN: token });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toContain("CAUSELOOP_METRICS_TOKEN must be");
      expect(message).not.toContain(token);
    }
    expect(loadConfig({}).metrics).toEqual({ address: undefined, token: undefined });
  });
});
