// What browsers and proxies see on every answer: nosniff, no referrer, a Content-Security-Policy that forbids
// everything on the API and allows /docs only its own scripts, no-store on anything answered to a credential,
// HSTS only when the client came over TLS (natively, or said so by a trusted proxy, never by anyone else),
// and CORS for the allowed origins only.
import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/http/app.ts";
import { parseTrustedProxies } from "../../src/http/client-ip.ts";
import { parseCorsOrigins } from "../../src/http/edge/headers.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";

const app = (options: { tls?: boolean; cors?: string; trusted?: string } = {}) =>
  createApp({
    logger: silentLogger,
    readiness: async () => [],
    version: "t",
    bodyLimitBytes: 1 << 20,
    tls: options.tls,
    cors: parseCorsOrigins(options.cors),
    trustedProxies: parseTrustedProxies(options.trusted),
  });
const get = (a: ReturnType<typeof app>, path: string, headers: Record<string, string> = {}, peer = "203.0.113.9") =>
  a.fetch(new Request(`http://localhost${path}`, { headers }), peer);

describe("security headers", () => {
  test("every answer: nosniff, no referrer, no framing, a strict CSP; /docs may load only its own scripts", async () => {
    const a = app();
    for (const path of ["/healthz", "/v1/issues", "/openapi.json", "/nowhere"]) {
      const response = await get(a, path);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("content-security-policy")).toStartWith("default-src 'none'");
    }
    const docs = (await get(a, "/docs")).headers.get("content-security-policy") ?? "";
    expect(docs).toContain("script-src 'self'");
    expect(docs).not.toContain("unsafe-eval");
    expect(docs).toContain("frame-ancestors 'none'");
  });

  test("Cache-Control: no-store on API answers and on anything sent with a credential; the docs bundle caches", async () => {
    const a = app();
    expect((await get(a, "/v1/issues", { authorization: "Bearer x" })).headers.get("cache-control")).toBe("no-store");
    expect((await get(a, "/healthz")).headers.get("cache-control")).toBe("no-store");
    expect((await get(a, "/docs/scalar.js")).headers.get("cache-control")).toContain("max-age");
  });

  test("HSTS over TLS, or behind a trusted proxy that says https; never on a spoofed header", async () => {
    expect((await get(app({ tls: true }), "/healthz")).headers.get("strict-transport-security")).toContain("max-age=");
    expect((await get(app(), "/healthz")).headers.get("strict-transport-security")).toBeNull();
    const proxied = app({ trusted: "10.0.0.0/8" });
    const https = { "x-forwarded-proto": "https" };
    expect((await get(proxied, "/healthz", https, "10.1.2.3")).headers.get("strict-transport-security")).toContain(
      "max-age=",
    );
    expect((await get(proxied, "/healthz", https, "203.0.113.9")).headers.get("strict-transport-security")).toBeNull();
    const forwarded = { forwarded: "for=198.51.100.1;proto=https" };
    expect((await get(proxied, "/healthz", forwarded, "10.1.2.3")).headers.get("strict-transport-security")).toContain(
      "max-age=",
    );
  });
});

describe("CORS", () => {
  const a = app({ cors: "https://app.example.com, http://localhost:5173" });
  const preflight = (origin: string) =>
    a.fetch(
      new Request("http://localhost/v1/issues", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
      }),
    );

  test("an allowed origin's preflight: 204 with the methods and headers, Vary: Origin, never credentials", async () => {
    const response = await preflight("https://app.example.com");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(response.headers.get("access-control-allow-headers")).toContain("Idempotency-Key");
    expect(response.headers.get("vary")).toContain("Origin");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("an unknown origin gets no CORS header at all; an allowed one sees the rate-limit fields exposed", async () => {
    const unknown = await preflight("https://evil.example");
    expect(unknown.headers.get("access-control-allow-origin")).toBeNull();
    expect(unknown.headers.get("access-control-allow-methods")).toBeNull();
    const plain = await get(a, "/healthz", { origin: "https://evil.example" });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    expect(plain.headers.get("vary")).toContain("Origin");
    const allowed = await get(a, "/healthz", { origin: "http://localhost:5173" });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(allowed.headers.get("access-control-expose-headers")).toContain("RateLimit");
  });

  test("CAUSELOOP_CORS_ORIGINS: a path or a bad origin stops the binary with one line naming it", () => {
    expect(() => loadConfig({ CAUSELOOP_CORS_ORIGINS: "https://app.example.com/path" })).toThrow(
      "CAUSELOOP_CORS_ORIGINS: 'https://app.example.com/path'",
    );
    expect(() => loadConfig({ CAUSELOOP_CORS_ORIGINS: "not an origin" })).toThrow("CAUSELOOP_CORS_ORIGINS");
    expect(loadConfig({ CAUSELOOP_CORS_ORIGINS: "*" }).cors.origins.has("*")).toBe(true);
  });
});
