// The edge's costs and behaviour under load, as ratios within one run (the machine is shared and noisy):
//  1. Rate limiter cost: GET /v1/issues/{id} over a real socket with no limiter, the in-memory limiter, and the
//     shared PostgreSQL limiter (slices reserved through rate_limit_reserve), interleaved, 3 repetitions.
//  2. Overload: the sustainable rate at 16 connections is measured first; then the server is driven at 4x that
//     rate (open loop) for 15 s with CAUSELOOP_MAX_IN_FLIGHT-style capping: status counts (only 2xx and the
//     deliberate 503 allowed), RSS during and after, and how soon it serves normally again.
//   bun scripts/bench/edge.ts [seconds-per-measure] [postgres|pglite]
import { createApp, type RateLimits } from "../../src/http/app.ts";
import { localLimiter } from "../../src/http/edge/rate-limit.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor } from "../../src/db/tenant.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { rateLimitsOn } from "../../src/tenancy/limits.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const seconds = Number(process.argv[2] ?? 5);
const kind = (process.argv[3] ?? "postgres") as "postgres" | "pglite";
const db = await createTestDb(kind);
const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
const token = acme.admin_token as string;
const huge = { perCredential: 10_000_000, perWorkspace: 10_000_000, perAddress: 10_000_000 };

function serve(limits: RateLimits | undefined, maxInFlight?: number) {
  const app = createApp({
    logger: silentLogger,
    readiness: async () => [],
    version: "bench",
    bodyLimitBytes: 1 << 20,
    door: tenantDoor(db.app),
    kek,
    limits,
    maxInFlight,
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r, s) => app.fetch(r, s.requestIP(r)?.address) });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true), app };
}

const plain = serve(undefined);
const issue = (await (
  await fetch(`${plain.url}/v1/issues`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title: "bench" }),
  })
).json()) as { id: string };
const headers = { authorization: `Bearer ${token}` };

/** Closed loop: `connections` clients each sending the next request when the last answered. */
async function closedLoop(url: string, connections: number, ms: number) {
  const latencies: number[] = [];
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        const response = await fetch(`${url}/v1/issues/${issue.id}`, { headers });
        await response.arrayBuffer();
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / (ms / 1000),
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const variants: Record<string, () => RateLimits | undefined> = {
  "no limiter": () => undefined,
  "in-memory limiter": () => ({ limiter: localLimiter(), ...huge }),
  [`shared limiter (${kind})`]: () => ({ ...rateLimitsOn(db.app, "postgres", huge, silentLogger) }),
};
const results: Record<string, { rate: number[]; p50: number[]; p99: number[] }> = {};
for (let rep = 0; rep < 3; rep++) {
  for (const [name, limits] of Object.entries(variants)) {
    const s = serve(limits());
    await closedLoop(s.url, 16, 500); // warm-up
    const r = await closedLoop(s.url, 16, seconds * 1000);
    s.stop();
    results[name] ??= { rate: [], p50: [], p99: [] };
    results[name].rate.push(r.rate);
    results[name].p50.push(r.p50);
    results[name].p99.push(r.p99);
  }
}
const base = median(results["no limiter"]?.rate ?? [1]);
console.log(`\n1. Rate limiter cost: GET /v1/issues/{id}, 16 connections, ${seconds} s x 3 interleaved (${kind})`);
console.log("| variant | req/s (median) | ratio | p50 ms | p99 ms |\n|---|---|---|---|---|");
for (const [name, r] of Object.entries(results))
  console.log(
    `| ${name} | ${median(r.rate).toFixed(0)} | ${(median(r.rate) / base).toFixed(2)} | ${median(r.p50).toFixed(2)} | ${median(r.p99).toFixed(2)} |`,
  );

// 2. Overload
const capped = serve({ limiter: localLimiter(), ...huge }, 64);
const sustainable = (await closedLoop(capped.url, 16, seconds * 1000)).rate;
const target = sustainable * 4;
const statuses = new Map<number, number>();
let errors = 0;
let outstanding = 0;
const rss: number[] = [];
const sampler = setInterval(() => rss.push(process.memoryUsage().rss / 1024 / 1024), 250);
const rssBefore = process.memoryUsage().rss / 1024 / 1024;
const loadMs = 15_000;
const started = performance.now();
let sent = 0;
while (performance.now() - started < loadMs) {
  const due = Math.floor(((performance.now() - started) / 1000) * target);
  for (; sent < due; sent++) {
    if (outstanding > 4000) break; // the driver's own bound (a client gives up too)
    outstanding++;
    fetch(`${capped.url}/v1/issues/${issue.id}`, { headers })
      .then(async (r) => {
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      })
      .catch(() => errors++)
      .finally(() => outstanding--);
  }
  await Bun.sleep(2);
}
while (outstanding > 0) await Bun.sleep(10);
const stopped = performance.now();
let recoveredMs = 0;
for (;;) {
  const r = await fetch(`${capped.url}/v1/issues/${issue.id}`, { headers });
  await r.arrayBuffer();
  if (r.status === 200) {
    recoveredMs = performance.now() - stopped;
    break;
  }
  await Bun.sleep(20);
}
const after = await closedLoop(capped.url, 16, seconds * 1000);
clearInterval(sampler);
const unexpected = [...statuses].filter(([s]) => s >= 500 && s !== 503).reduce((a, [, n]) => a + n, 0);
console.log(
  `\n2. Overload (${kind}): in-flight limit 64, sustainable ${sustainable.toFixed(0)} req/s at 16 connections`,
);
console.log(
  `driven at 4x = ${target.toFixed(0)} req/s for 15 s (open loop, ${sent} sent): ${JSON.stringify(Object.fromEntries(statuses))}, connection errors ${errors}`,
);
console.log(`5xx other than the deliberate 503: ${unexpected}`);
console.log(
  `RSS (driver and server in one process) before ${rssBefore.toFixed(0)} MiB, peak ${Math.max(...rss).toFixed(0)} MiB, after ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`,
);
console.log(
  `first 200 after the load: ${recoveredMs.toFixed(0)} ms; then ${after.rate.toFixed(0)} req/s (ratio ${(after.rate / sustainable).toFixed(2)} to before)`,
);
capped.stop();
plain.stop();
await db.dispose();
await stopPostgresServer();
process.exit(0);
