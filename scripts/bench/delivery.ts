// Outbound delivery against its baselines, in one run on PostgreSQL 16 (ratios, not absolutes: the machine is
// shared):
//  - delivery throughput: N events in the outbox for one destination (a local receiver answering 200), sent by
//    the delivery worker (claim, open the secret, sign per Standard Webhooks, POST through the outbound guard,
//    record), against plain fetch() POSTs of the same bodies to the same receiver, one after another as the
//    worker sends one destination's events;
//  - the outbox write on the request path: POST /v1/issues through the app, with one subscribed webhook against
//    none (the event rows are written in the request's transaction), medians of interleaved rounds.
//   bun scripts/bench/delivery.ts [events] [requests]
import { silentLogger } from "../../src/log.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { DeliveryWorker } from "../../src/delivery/worker.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";
import { ownerApp } from "../../test/helpers/routes.ts";

const events = Number(process.argv[2] ?? 2000);
const requests = Number(process.argv[3] ?? 400);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

let received = 0;
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (request) => {
    await request.arrayBuffer();
    received++;
    return new Response(null, { status: 204 });
  },
});
const policy = outboundPolicy({ allowlist: "127.0.0.1", timeoutMs: 10_000 });
const h = await ownerApp("postgres", { outbound: policy });
const call = async (path: string, body: unknown) => {
  const response = await h.app.fetch(
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  if (response.status >= 300) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
};

try {
  // --- the outbox write on the request path
  const timeCreate = async () => {
    const started = performance.now();
    await call("/v1/issues", { title: "bench" });
    return performance.now() - started;
  };
  for (let i = 0; i < 50; i++) await timeCreate(); // warm up
  const without: number[] = [];
  const withHook: number[] = [];
  const hook = await call("/v1/webhooks", { url: `http://127.0.0.1:${receiver.port}/hook`, events: ["issue.created"] });
  for (let round = 0; round < 4; round++) {
    // Interleaved: the subscribed webhook on, then off (status disabled), a quarter of the requests each time.
    await h.db.owner.query("update webhooks set status = 'active' where id = $1", [hook.id]);
    for (let i = 0; i < requests / 4; i++) withHook.push(await timeCreate());
    await h.db.owner.query("update webhooks set status = 'disabled' where id = $1", [hook.id]);
    for (let i = 0; i < requests / 4; i++) without.push(await timeCreate());
  }
  await h.db.owner.query("delete from webhook_deliveries");
  await h.db.owner.query("update webhooks set status = 'active' where id = $1", [hook.id]);

  // --- delivery throughput
  await h.db.owner.query(
    `insert into webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload)
     select $1, new_id('dlv'), $2, new_id('msg'), 'issue.created',
            jsonb_build_object('type', 'issue.created', 'timestamp', now(), 'data', jsonb_build_object('n', g, 'title', 'bench event'))
       from generate_series(1, $3) g`,
    [h.tenant.workspace_id, hook.id, events],
  );
  const bodies = await h.db.owner.query<{ payload: unknown }>("select payload from webhook_deliveries limit $1", [
    events,
  ]);
  const worker = new DeliveryWorker(
    h.db.app,
    h.kek,
    policy,
    silentLogger,
    { retrySchedule: [1], breakerThreshold: 1000, breakerSeconds: 60 },
    { batch: 100 },
  );
  received = 0;
  let started = performance.now();
  while ((await worker.drain()) > 0) {}
  const workerSeconds = (performance.now() - started) / 1000;
  const delivered = received;
  received = 0;
  started = performance.now();
  for (const { payload } of bodies)
    await fetch(`http://127.0.0.1:${receiver.port}/plain`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
  const plainSeconds = (performance.now() - started) / 1000;

  const perSecond = (n: number, s: number) => (n / s).toFixed(0);
  console.log(`PostgreSQL 16, one destination, ${events} events; ${requests} POST /v1/issues per arm`);
  console.log("| measure | Causeloop | baseline | ratio |");
  console.log("|---|---|---|---|");
  console.log(
    `| delivery throughput (events/s; baseline: plain fetch POSTs of the same bodies) | ${perSecond(delivered, workerSeconds)} | ${perSecond(bodies.length, plainSeconds)} | ${(delivered / workerSeconds / (bodies.length / plainSeconds)).toFixed(2)} |`,
  );
  console.log(
    `| POST /v1/issues median latency (ms; baseline: no subscribed webhook) | ${median(withHook).toFixed(2)} | ${median(without).toFixed(2)} | ${(median(withHook) / median(without)).toFixed(2)} |`,
  );
} finally {
  receiver.stop(true);
  await h.dispose();
  await stopPostgresServer();
}
