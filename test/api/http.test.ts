// The HTTP front door: problem+json for every failure, request ids, limits, readiness, OpenAPI and docs.
import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { createApp } from "../../src/http/app.ts";
import { createLogger } from "../../src/log.ts";
import { AppError } from "../../src/errors.ts";
import type { ReadinessCheck } from "../../src/health/routes.ts";

function build(options: { ready?: ReadinessCheck[]; lines?: string[] } = {}) {
  const lines = options.lines ?? [];
  // A capability plugin as a real one would be written: a JSON route, a typed error, an unexpected failure.
  const probe = new Elysia({ name: "probe" })
    .post("/v1/echo", ({ body }) => body, { body: t.Object({ title: t.String({ minLength: 1 }) }) })
    .get("/v1/things/:id", ({ params }) => {
      throw new AppError("not_found", `thing ${params.id} not found`);
    })
    .get("/v1/boom", () => {
      throw new Error('relation "secret_table" does not exist at character 15');
    });
  const app = createApp({
    logger: createLogger("info", (line) => lines.push(line)),
    readiness: async () => options.ready ?? [{ name: "database", ok: true, detail: "test" }],
    version: "9.9.9",
    bodyLimitBytes: 1024,
    capabilities: [probe],
  });
  return { app, lines };
}

const call = (app: ReturnType<typeof build>["app"], path: string, init?: RequestInit) =>
  app.fetch(new Request(`http://local${path}`, init));

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  for (const key of ["type", "title", "detail", "request_id"]) expect(typeof body[key]).toBe("string");
  expect(body.request_id).toBe(response.headers.get("x-request-id") as string);
  return body;
}

describe("HTTP front door", () => {
  test("healthz is alive and readyz is ready when every check passes", async () => {
    const { app } = build();
    expect(await (await call(app, "/healthz")).json()).toMatchObject({ status: "ok", version: "9.9.9" });
    const ready = await call(app, "/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });
  });

  test("readyz answers 503 with the failing reasons", async () => {
    const { app } = build({
      ready: [
        { name: "database", ok: true, detail: "x" },
        { name: "migrations", ok: false, detail: "0007_x pending" },
      ],
    });
    const body = await expectProblem(await call(app, "/readyz"), 503, "not_ready");
    expect(body.detail).toContain("migrations: 0007_x pending");
    expect(Array.isArray(body.checks)).toBe(true);
  });

  test("invalid JSON is a 400 problem", async () => {
    const { app } = build();
    await expectProblem(
      await call(app, "/v1/echo", { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }),
      400,
      "invalid_json",
    );
  });

  test("a body that fails validation is a 422 problem naming the field", async () => {
    const { app } = build();
    const body = await expectProblem(
      await call(app, "/v1/echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ title: "" }),
      }),
      422,
      "validation_failed",
    );
    expect(String(body.detail)).toContain("title");
  });

  test("valid JSON reaches the route", async () => {
    const { app } = build();
    const response = await call(app, "/v1/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "hello" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ title: "hello" });
  });

  test("unknown route 404, wrong method 405 with Allow", async () => {
    const { app } = build();
    await expectProblem(await call(app, "/v1/nothing-here"), 404, "not_found");
    const wrong = await call(app, "/healthz", { method: "DELETE" });
    await expectProblem(wrong, 405, "method_not_allowed");
    expect(wrong.headers.get("allow")).toContain("GET");
    await expectProblem(await call(app, "/v1/echo"), 405, "method_not_allowed");
  });

  test("a body over the limit is 413 and a non-JSON body 415", async () => {
    const { app } = build();
    const big = JSON.stringify({ title: "x".repeat(2000) });
    await expectProblem(
      await call(app, "/v1/echo", { method: "POST", headers: { "content-type": "application/json" }, body: big }),
      413,
      "payload_too_large",
    );
    await expectProblem(
      await call(app, "/v1/echo", { method: "POST", headers: { "content-type": "text/plain" }, body: "title=x" }),
      415,
      "unsupported_media_type",
    );
  });

  test("typed errors become their problem; unexpected errors a 500 without SQL or stack", async () => {
    const { app, lines } = build();
    const notFound = await expectProblem(await call(app, "/v1/things/iss_1"), 404, "not_found");
    expect(notFound.detail).toBe("thing iss_1 not found");
    const boom = await call(app, "/v1/boom");
    const body = await expectProblem(boom, 500, "internal");
    const text = JSON.stringify(body);
    expect(text).not.toContain("secret_table");
    expect(text).not.toContain("at ");
    expect(String(body.detail)).toContain(String(body.request_id));
    expect(lines.some((l) => l.includes("secret_table"))).toBe(true); // the details go to the log
  });

  test("X-Request-Id is echoed when well-formed and replaced when not", async () => {
    const { app } = build();
    const good = await call(app, "/healthz", { headers: { "x-request-id": "abc-123" } });
    expect(good.headers.get("x-request-id")).toBe("abc-123");
    const bad = await call(app, "/healthz", { headers: { "x-request-id": "has spaces <script>" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^req_[0-9a-z]{26}$/);
  });

  test("one JSON log line per request with method, route, status, duration and request id, no secrets", async () => {
    const { app, lines } = build();
    await call(app, "/healthz?token=clp_pat_secretsecret_123", {
      headers: { "x-request-id": "trace-1", authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig" },
    });
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.request_id === "trace-1");
    expect(line).toMatchObject({ event: "request", method: "GET", route: "/healthz", status: 200 });
    expect(typeof line?.duration_ms).toBe("number");
    expect(lines.join("\n")).not.toContain("secretsecret");
    expect(lines.join("\n")).not.toContain("eyJhbGci");
  });

  test("OpenAPI 3.1 at /openapi.json and Scalar's reference at /docs, served from the server itself", async () => {
    const { app } = build();
    const spec = (await (await call(app, "/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toStartWith("3.1");
    expect(Object.keys(spec.paths)).toContain("/readyz");
    const docs = await call(app, "/docs");
    expect(docs.headers.get("content-type")).toContain("text/html");
    const page = await docs.text();
    // Scripts come from this server only (no CDN): the bundle and the call that points it at the contract.
    expect([...page.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1])).toEqual(["/docs/scalar.js", "/docs/init.js"]);
    expect(page).not.toMatch(/https?:\/\//);
    const init = await (await call(app, "/docs/init.js")).text();
    expect(init).toContain('url: "/openapi.json"');
    expect(init).toContain('proxyUrl: ""');
    const bundle = await call(app, "/docs/scalar.js");
    expect(bundle.headers.get("content-type")).toContain("javascript");
    expect(await bundle.text()).toContain("createApiReference");
  });
});
