// Envelope encryption cost: seal/open operations per second (AES-256-GCM through Web Crypto, DEK cached),
// and the latency a request adds by reading one secret: GET /v1/webhooks/{id} (opens the signing secret to
// show its last four characters) against GET /v1/issues/{id} (no secret) in the same run, same database.
//   bun scripts/bench/secrets.ts [requests] [postgres|pglite]
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor, withTenant } from "../../src/db/tenant.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { SecretBox } from "../../src/secrets/envelope.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const requests = Number(process.argv[2] ?? 2000);
const kind = (process.argv[3] ?? "postgres") as "postgres" | "pglite";
const db = await createTestDb(kind);
const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);

const ctx = { table: "webhooks", column: "secret_encrypted", rowId: "whk_00000000000000000000000000" };
const ops = 20_000;
const { sealRate, openRate } = await withTenant(db.app, acme.workspace_id, async (tx) => {
  const box = new SecretBox(tx, kek, acme.workspace_id);
  const sealed = await box.seal(ctx, "whsec_0123456789abcdef0123456789abcdef");
  let started = performance.now();
  for (let i = 0; i < ops; i++) await box.seal(ctx, "whsec_0123456789abcdef0123456789abcdef");
  const sealRate = ops / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < ops; i++) await box.open(ctx, sealed);
  return { sealRate, openRate: ops / ((performance.now() - started) / 1000) };
});

const app = createApp({
  logger: silentLogger,
  readiness: async () => [],
  version: "bench",
  bodyLimitBytes: 1 << 20,
  door: tenantDoor(db.app),
  kek,
});
const headers = { authorization: `Bearer ${acme.admin_token}`, "content-type": "application/json" };
const post = async (path: string, body: unknown) =>
  (await (
    await app.fetch(new Request(`http://localhost${path}`, { method: "POST", headers, body: JSON.stringify(body) }))
  ).json()) as { id: string };
const webhook = await post("/v1/webhooks", { url: "https://hooks.example.com/bench" });
const issue = await post("/v1/issues", { title: "bench" });
async function latencies(path: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await app.fetch(new Request(`http://localhost${path}`, { headers }));
    await response.arrayBuffer();
    out.push(performance.now() - started);
  }
  return out.sort((a, b) => a - b);
}
// Interleave warm-up, then measure both.
await latencies(`/v1/issues/${issue.id}`);
const plain = await latencies(`/v1/issues/${issue.id}`);
const secret = await latencies(`/v1/webhooks/${webhook.id}`);
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
await db.dispose();
await stopPostgresServer();
console.log(`engine ${kind}; ${ops} operations; ${requests} requests per route`);
console.log(`seal: ${sealRate.toFixed(0)} ops/s, open: ${openRate.toFixed(0)} ops/s`);
console.log("| request | p50 ms | p99 ms |");
console.log("|---|---|---|");
console.log(
  `| GET /v1/issues/{id} (baseline, no secret) | ${pct(plain, 0.5).toFixed(2)} | ${pct(plain, 0.99).toFixed(2)} |`,
);
console.log(
  `| GET /v1/webhooks/{id} (opens one secret) | ${pct(secret, 0.5).toFixed(2)} | ${pct(secret, 0.99).toFixed(2)} |`,
);
console.log(
  `added latency at p50: ${(pct(secret, 0.5) - pct(plain, 0.5)).toFixed(2)} ms (ratio ${(pct(secret, 0.5) / pct(plain, 0.5)).toFixed(2)})`,
);
