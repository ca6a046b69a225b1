// Overload, over a real socket: past its in-flight limit an instance answers at once with 503 `overloaded` and
// Retry-After instead of queueing without bound; the probes still answer; once the load is gone it serves
// normally again.
import { expect, test } from "bun:test";
import { Elysia } from "elysia";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";

test("beyond the in-flight limit: a fast 503 with Retry-After; /healthz and /readyz answer; then back to normal", async () => {
  const gate = Promise.withResolvers<void>();
  const slow = new Elysia().get("/test/slow", async () => {
    await gate.promise;
    return { ok: true };
  });
  const app = createApp({
    logger: silentLogger,
    readiness: async () => [],
    version: "t",
    bodyLimitBytes: 1 << 20,
    maxInFlight: 2,
    capabilities: [slow],
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, s) => app.fetch(request, s.requestIP(request)?.address),
  });
  const call = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);
  const held = [call("/test/slow"), call("/test/slow")];
  await Bun.sleep(20);
  expect(app.inFlight()).toBe(2);
  const refused = await call("/test/slow");
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("5");
  expect(refused.headers.get("content-type")).toContain("application/problem+json");
  expect(((await refused.json()) as { code: string }).code).toBe("overloaded");
  expect(app.overloaded()).toBe(1);
  expect((await call("/healthz")).status).toBe(200);
  expect((await call("/readyz")).status).toBe(200);
  gate.resolve();
  expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  expect(app.inFlight()).toBe(0);
  expect((await call("/test/slow")).status).toBe(200);
  server.stop(true);
});
