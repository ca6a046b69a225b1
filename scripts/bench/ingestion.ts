// Ingestion throughput against its baseline, in one run on PostgreSQL 16 (ratios, not absolutes: the machine
// is shared): events/s through POST /v1/hooks/{token} (signature check with the sealed secret opened in the
// door, adapter, dedupe insert, issue lookup by fingerprint and update, activity event) against plain
// POST /v1/issues (insert, audit row, activity event), both through the whole app, in interleaved rounds,
// one client after another and 8 at once. Events are generic JSON signed with x-causeloop-signature, spread
// over 20 fingerprints (so, as in real alert storms, most events update an open issue).
//   bun scripts/bench/ingestion.ts [requests per arm] [concurrency]
import { causeloopSignature } from "../../src/ingestion/signatures.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";
import { ownerApp } from "../../test/helpers/routes.ts";

const requests = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);
const ROUNDS = 4;

const h = await ownerApp("postgres");
const post = async (url: string, body: string, headers: Record<string, string>) => {
  const response = await h.app.fetch(
    new Request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
  );
  if (response.status >= 300) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
};

try {
  const created = await h.app.fetch(
    new Request("http://localhost/v1/inbound-webhooks", {
      method: "POST",
      headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" },
      body: JSON.stringify({ source: "generic" }),
    }),
  );
  const hook = (await created.json()) as { url: string; signing_secret: string };
  let n = 0;
  const viaHook = () => {
    const body = JSON.stringify({
      event_id: `bench-${n}`,
      title: `Queue depth above threshold on worker-${n % 20}`,
      fingerprint: `worker-${n++ % 20}`,
      severity: "high",
    });
    return post(hook.url, body, { "x-causeloop-signature": causeloopSignature(hook.signing_secret, body) });
  };
  const viaIssues = () =>
    post("http://localhost/v1/issues", JSON.stringify({ title: `bench issue ${n++}`, severity: "high" }), {
      authorization: `Bearer ${h.token}`,
    });

  /** Requests per second of `count` calls of `one`, `parallel` at a time. */
  const rate = async (one: () => Promise<void>, count: number, parallel: number) => {
    let left = count;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (left-- > 0) await one();
      }),
    );
    return count / ((performance.now() - started) / 1000);
  };
  const measure = async (parallel: number) => {
    const hooks: number[] = [];
    const issues: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      hooks.push(await rate(viaHook, requests / ROUNDS, parallel));
      issues.push(await rate(viaIssues, requests / ROUNDS, parallel));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { hook: mean(hooks), issues: mean(issues) };
  };

  await rate(viaHook, 200, 1); // warm up both paths
  await rate(viaIssues, 200, 1);
  const serial = await measure(1);
  const parallel = await measure(concurrency);
  const [counts] = await h.db.owner.query<{ events: number; issues: number }>(
    "select (select count(*)::int from ingested_events) as events, (select count(*)::int from issues where source = 'generic') as issues",
  );
  console.log(
    `PostgreSQL 16, ${requests} requests per arm in ${ROUNDS} interleaved rounds; ${counts?.events} events stored into ${counts?.issues} issues`,
  );
  console.log("| clients | POST /v1/hooks (events/s) | POST /v1/issues (req/s) | ratio |");
  console.log("|---|---|---|---|");
  for (const [label, r] of [
    ["1", serial],
    [String(concurrency), parallel],
  ] as const)
    console.log(`| ${label} | ${r.hook.toFixed(0)} | ${r.issues.toFixed(0)} | ${(r.hook / r.issues).toFixed(2)} |`);
} finally {
  await h.dispose();
  await stopPostgresServer();
}
