// Retention purge throughput (rows/s) with the p99 latency of concurrent API reads before and during the
// purge (same run, same database), and export throughput (MB/s of NDJSON produced and archived).
//   bun scripts/bench/governance.ts [rows] [postgres|pglite]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/http/app.ts";
import { silentLogger } from "../../src/log.ts";
import { tenantDoor, withTenant } from "../../src/db/tenant.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { runRetention } from "../../src/governance/retention.ts";
import { buildExport } from "../../src/governance/exports.ts";
import { localStore } from "../../src/governance/storage.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const rows = Number(process.argv[2] ?? 50_000);
const kind = (process.argv[3] ?? "postgres") as "postgres" | "pglite";
const db = await createTestDb(kind);
const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" });
const ws = acme.workspace_id;
// Half the issues are 400 days old (past the 365-day window), half are fresh.
await db.owner.query(
  `insert into issues (workspace_id, id, title, body, severity, created_at)
   select $1, 'iss_' || lpad(to_hex(g), 26, '0'), 'Incident ' || g, repeat('stack trace line ', 20), 'high',
          case when g % 2 = 0 then now() - interval '400 days' else now() end
     from generate_series(1, $2) g`,
  [ws, rows],
);
const app = createApp({
  logger: silentLogger,
  readiness: async () => [],
  version: "bench",
  bodyLimitBytes: 1 << 20,
  door: tenantDoor(db.app),
});
const fresh = (
  await db.owner.query<{ id: string }>(
    "select id from issues where workspace_id = $1 and created_at > now() - interval '1 day' limit 1",
    [ws],
  )
)[0]?.id as string;

async function readLoop(stop: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!stop()) {
    const started = performance.now();
    const response = await app.fetch(
      new Request(`http://localhost/v1/issues/${fresh}`, { headers: { authorization: `Bearer ${acme.admin_token}` } }),
    );
    await response.arrayBuffer();
    latencies.push(performance.now() - started);
  }
  return latencies;
}
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

let done = false;
const baselineEnd = Date.now() + 3000;
const before = await readLoop(() => Date.now() > baselineEnd);
const reads = readLoop(() => done);
const started = performance.now();
const purge = await runRetention(db.app, { workspace: ws });
const purgeSeconds = (performance.now() - started) / 1000;
done = true;
const during = await reads;

const root = mkdtempSync(join(tmpdir(), "causeloop-bench-export-"));
await withTenant(db.app, ws, (tx) =>
  tx.query(
    "insert into export_jobs (workspace_id, id, storage_kind) values ($1, 'exp_00000000000000000000000000', 'local')",
    [ws],
  ),
);
const exportStarted = performance.now();
const built = await buildExport(
  db.app,
  ws,
  "exp_00000000000000000000000000",
  localStore(root, exportLinks(new TextEncoder().encode("bench-link-secret-0123456789"), 15)),
);
const exportSeconds = (performance.now() - exportStarted) / 1000;
const manifest = (
  await db.owner.query<{ m: { tables: { bytes: number; rows: number }[] } }>(
    "select manifest as m from export_jobs where id = 'exp_00000000000000000000000000'",
  )
)[0]?.m;
const ndjsonBytes = manifest?.tables.reduce((a, t) => a + t.bytes, 0) ?? 0;
rmSync(root, { recursive: true, force: true });
await db.dispose();
await stopPostgresServer();

console.log(`engine ${kind}; ${rows} issues, ${purge.totals.issues} past the window`);
console.log(
  `purge: ${((purge.totals.issues ?? 0) / purgeSeconds) | 0} rows/s (${purgeSeconds.toFixed(2)} s, batches of 2000)`,
);
console.log(
  `GET /v1/issues/{id} p99: ${p99(before).toFixed(2)} ms before (${before.length} reads), ${p99(during).toFixed(2)} ms during the purge (${during.length} reads), ratio ${(p99(during) / p99(before)).toFixed(2)}`,
);
console.log(
  `export: ${(ndjsonBytes / 1e6).toFixed(1)} MB of NDJSON in ${exportSeconds.toFixed(2)} s = ${(ndjsonBytes / 1e6 / exportSeconds).toFixed(1)} MB/s; archive ${(built.size_bytes / 1e6).toFixed(2)} MB`,
);
