// OpenTelemetry traces as an operator's collector receives them: a real OTLP/HTTP receiver on loopback, the app
// with tracing on as serve wires it, and spans that say which route answered, how, and what the database did for
// it (the tenant transaction and its statements as children) without a token, an email or a parameter in them.
// A caller's W3C traceparent is continued; the trace id is on the log lines written while a request is traced.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type TracingSettings } from "../../src/config.ts";
import { startServer } from "../../src/server.ts";
import { createLogger } from "../../src/log.ts";
import { startTracing, type Tracing } from "../../src/observability/tracing.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, type OwnerApp } from "../helpers/routes.ts";

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const SERVER = 2;
const COLLECTOR_KEY = "collector-api-key-0123456789";

/** A local OTLP/HTTP JSON receiver: every span it was sent, and the headers of the exports. */
function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const resources: Record<string, unknown>[] = [];
  const apiKeys: (string | null)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (request.method !== "POST" || path !== "/v1/traces") return new Response("not found", { status: 404 });
      if (!request.headers.get("content-type")?.startsWith("application/json"))
        return new Response("expected OTLP JSON", { status: 415 });
      apiKeys.push(request.headers.get("x-api-key"));
      const body = (await request.json()) as OtlpExport;
      for (const resource of body.resourceSpans) {
        resources.push(
          Object.fromEntries((resource.resource?.attributes ?? []).map((a) => [a.key, otlpValue(a.value)])),
        );
        for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      }
      return Response.json({});
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, spans, resources, apiKeys, stop: () => server.stop(true) };
}

function otlpValue(value: OtlpValue): string | number | boolean | undefined {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.boolValue ?? value.doubleValue;
}

const attr = (span: OtlpSpan, key: string) => {
  const found = span.attributes?.find((a) => a.key === key);
  return found ? otlpValue(found.value) : undefined;
};

describeEngines("OpenTelemetry traces", (kind) => {
  let receiver: ReturnType<typeof otlpReceiver>;
  let tracing: Tracing;
  let h: OwnerApp;
  let issueId: string;
  let pat: string;
  const exportWarnings: string[] = [];

  const call = async (method: string, path: string, token: string, extra: Record<string, string> = {}) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...extra },
      }),
    );
    await response.arrayBuffer();
    return response;
  };

  beforeAll(async () => {
    receiver = otlpReceiver();
    const settings: TracingSettings = {
      url: receiver.url,
      protocol: "http/json",
      headers: { "x-api-key": COLLECTOR_KEY },
      serviceName: "causeloop-test",
      sampler: "parentbased_always_on",
      samplerRatio: 1,
    };
    tracing = await startTracing(settings, {
      version: "t",
      logger: createLogger("warn", (line) => exportWarnings.push(line)),
    });
    h = await ownerApp(kind, { tracing });
    const created = await h.app.fetch(
      new Request("http://localhost/v1/issues", {
        method: "POST",
        headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: "Checkout fails for owner@acme.example" }),
      }),
    );
    issueId = ((await created.json()) as { id: string }).id;
    const minted = await h.app.fetch(
      new Request("http://localhost/v1/tokens", {
        method: "POST",
        headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "ci", scopes: ["issues:read"] }),
      }),
    );
    pat = ((await minted.json()) as { token: string }).token;
  });

  afterAll(async () => {
    await tracing?.shutdown();
    await h?.dispose();
    receiver?.stop();
  });

  test("a request is a server span named by its route, with the tenant transaction and its queries as children", async () => {
    const response = await call("GET", `/v1/issues/${issueId}?fields=title`, pat);
    expect(response.status).toBe(200);
    await tracing.flush();

    const server = receiver.spans.find((s) => s.kind === SERVER && s.name === "GET /v1/issues/:id");
    if (!server) throw new Error(`no server span; got ${receiver.spans.map((s) => s.name).join(", ")}`);
    expect(attr(server, "http.request.method")).toBe("GET");
    expect(attr(server, "http.route")).toBe("/v1/issues/:id");
    expect(attr(server, "http.response.status_code")).toBe(200);
    expect(attr(server, "causeloop.workspace_id")).toBe(h.tenant.workspace_id);
    expect(attr(server, "causeloop.request_id")).toBe(response.headers.get("x-request-id") ?? "");
    expect(server.parentSpanId || undefined).toBeUndefined();

    const inTrace = receiver.spans.filter((s) => s.traceId === server.traceId);
    const transactions = inTrace.filter((s) => s.name === "db.transaction" && s.parentSpanId === server.spanId);
    expect(transactions.length).toBeGreaterThanOrEqual(1);
    const queries = inTrace.filter(
      (s) => s.name === "db.query" && transactions.some((t) => t.spanId === s.parentSpanId),
    );
    expect(queries.length).toBeGreaterThanOrEqual(1);
    const statements = queries.map((q) => String(attr(q, "db.statement")));
    // The door's own statement (a token's read request enters with enter_with_pat), then the route's: SQL text
    // with placeholders, never the values bound to them (the token's hash neither).
    expect(statements.some((sql) => sql.includes("enter_with_pat($1, $2)"))).toBe(true);
    expect(statements.some((sql) => /\bissues\b/.test(sql))).toBe(true);
    expect(statements.join("\n")).not.toContain(issueId);
    expect(statements.join("\n")).not.toContain(h.tenant.workspace_id);

    expect(receiver.resources.some((r) => r["service.name"] === "causeloop-test")).toBe(true);
    expect(receiver.apiKeys.every((key) => key === COLLECTOR_KEY)).toBe(true);
    expect(exportWarnings).toEqual([]);
  });

  test("no span carries a credential, an email or a query string, from any request so far", async () => {
    await call("GET", "/v1/issues?q=owner%40acme.example&limit=5", pat);
    await tracing.flush();
    const everything = JSON.stringify(receiver.spans);
    expect(receiver.spans.length).toBeGreaterThan(10); // sign-in, setup, the reads above: all of them checked
    for (const secret of [
      pat,
      h.token,
      "harness-owner-password-1",
      COLLECTOR_KEY,
      "owner@acme.example",
      "acme.example",
    ])
      expect(everything).not.toContain(secret);
    expect(everything).not.toContain("limit=5");
    expect(everything).not.toMatch(/clp_[a-z]+_|eyJ[A-Za-z0-9_-]{10,}/);
    const list = receiver.spans.find((s) => s.kind === SERVER && s.name === "GET /v1/issues");
    expect(list && attr(list, "http.route")).toBe("/v1/issues");
  });

  test("a caller's traceparent is continued: same trace id, its span as the parent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    await call("GET", `/v1/issues/${issueId}`, pat, {
      traceparent: `00-${traceId}-${parentId}-01`,
      tracestate: "vendor=owner@acme.example",
    });
    await tracing.flush();
    const server = receiver.spans.find((s) => s.kind === SERVER && s.traceId === traceId);
    if (!server) throw new Error("the caller's trace was not continued");
    expect(server.parentSpanId).toBe(parentId);
    expect(server.name).toBe("GET /v1/issues/:id");
    expect(receiver.spans.some((s) => s.traceId === traceId && s.name === "db.transaction")).toBe(true);
    expect(JSON.stringify(receiver.spans)).not.toContain("vendor=");

    // A malformed traceparent is ignored: a new trace of our own, not an error.
    const before = receiver.spans.length;
    const answered = await call("GET", `/v1/issues/${issueId}`, pat, {
      traceparent: `00-${"0".repeat(32)}-${parentId}-01`,
    });
    expect(answered.status).toBe(200);
    await tracing.flush();
    const fresh = receiver.spans.slice(before).find((s) => s.kind === SERVER);
    expect(fresh?.parentSpanId || undefined).toBeUndefined();
    expect(fresh?.traceId).not.toBe("0".repeat(32));
  });

  test("a path no route serves is named by its method alone; log lines in a traced request carry its trace id", async () => {
    const response = await call("GET", "/v1/owner@acme.example/nothing", pat);
    expect(response.status).toBe(404);
    const lines: string[] = [];
    const logger = createLogger("info", (line) => lines.push(line));
    let inside = "";
    await tracing.request(new Request("http://localhost/anything"), async (span) => {
      logger.info("work.done", { request_id: "req_x" });
      span.answered({ route: "/v1/things", status: 200, requestId: "req_x" });
      inside = lines[0] ?? "";
    });
    logger.info("outside");
    await tracing.flush();
    const unmatched = receiver.spans.find((s) => s.kind === SERVER && attr(s, "http.response.status_code") === 404);
    expect(unmatched?.name).toBe("GET");
    expect(unmatched && attr(unmatched, "http.route")).toBeUndefined();
    const traced = receiver.spans.find((s) => s.name === "GET /v1/things");
    if (!traced) throw new Error("the request's span was not exported");
    expect(JSON.parse(inside).trace_id).toBe(traced.traceId);
    expect(JSON.parse(lines[1] ?? "{}").trace_id).toBeUndefined();
  });
});

describe("serve with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  test("the standard variables switch tracing on: protobuf by default, the headers sent, the last spans flushed at stop", async () => {
    const bodies: { type: string; key: string | null; bytes: Uint8Array }[] = [];
    const collector = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        bodies.push({
          type: request.headers.get("content-type") ?? "",
          key: request.headers.get("x-api-key"),
          bytes: new Uint8Array(await request.arrayBuffer()),
        });
        return new Response(null, { status: 200 });
      },
    });
    const dataDir = mkdtempSync(join(tmpdir(), "causeloop-tracing-"));
    const lines: string[] = [];
    try {
      const config = loadConfig({
        CAUSELOOP_DATA_DIR: dataDir,
        CAUSELOOP_PORT: "0",
        CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "3600",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
        OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${COLLECTOR_KEY}`,
        OTEL_SERVICE_NAME: "causeloop-serve-test",
      });
      const server = await startServer(
        config,
        createLogger("info", (line) => lines.push(line)),
      );
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const answered = await fetch(`${server.url}/readyz`, {
        headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      });
      expect(answered.status).toBeLessThan(600);
      await server.shutdown("test");

      expect(bodies.length).toBeGreaterThanOrEqual(1);
      expect(bodies.every((b) => b.type === "application/x-protobuf" && b.key === COLLECTOR_KEY)).toBe(true);
      // Protobuf keeps strings as UTF-8: the span's name and the service's are in the bytes as written.
      const sent = bodies.map((b) => new TextDecoder().decode(b.bytes)).join("");
      expect(sent).toContain("GET /readyz");
      expect(sent).toContain("causeloop-serve-test");
      const enabled = lines.map((l) => JSON.parse(l)).find((l) => l.event === "tracing.enabled");
      expect(enabled).toMatchObject({ url: `http://127.0.0.1:${collector.port}/v1/traces`, protocol: "http/protobuf" });
      expect(lines.join("\n")).not.toContain(COLLECTOR_KEY);
      const request = lines.map((l) => JSON.parse(l)).find((l) => l.event === "request" && l.route === "/readyz");
      expect(request?.trace_id).toBe(traceId);
    } finally {
      collector.stop(true);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
