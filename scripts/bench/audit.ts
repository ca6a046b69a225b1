// Audit trail throughput: hash-chained appends per second for one hot workspace and for eight workspaces in
// parallel, each next to plain inserts of the same rows (no chain, no lock) in the same run; and chain
// verification speed in rows per second.   bun scripts/bench/audit.ts [rows] [engine: postgres|pglite]
import { appendAudit } from "../../src/audit/service.ts";
import { verifyWorkspace } from "../../src/audit/trail.ts";
import { signerFromPkcs8 } from "../../src/audit/signing.ts";
import { withTenant } from "../../src/db/tenant.ts";
import type { Engine } from "../../src/db/engine.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { createTenant } from "../../test/helpers/tenants.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const rows = Number(process.argv[2] ?? 2000);
const kind = (process.argv[3] ?? "postgres") as "postgres" | "pglite";
const db = await createTestDb(kind);
const payload = { title: "Checkout latency above SLO", severity: "high", n: 1 };

async function chained(engine: Engine, ws: string, n: number) {
  for (let i = 0; i < n; i++)
    await withTenant(engine, ws, (tx) =>
      appendAudit(tx, {
        workspaceId: ws,
        action: "issue.updated",
        actorId: "usr_bench",
        actorType: "user",
        targetType: "issue",
        targetId: `iss_${i}`,
        after: payload,
      }),
    );
}
async function plain(engine: Engine, ws: string, n: number) {
  for (let i = 0; i < n; i++) {
    await withTenant(engine, ws, (tx) =>
      tx.query(
        "insert into activity_events (workspace_id, id, actor_id, kind, payload) values ($1, new_id('act'), 'usr_bench', 'issue.updated', $2::jsonb)",
        [ws, JSON.stringify(payload)],
      ),
    );
  }
}
async function rate(fn: () => Promise<unknown>, n: number): Promise<number> {
  const started = performance.now();
  await fn();
  return n / ((performance.now() - started) / 1000);
}

const hot = await createTenant(db.owner);
const plainHot = await createTenant(db.owner);
// Concurrency: 4 writers into one hot workspace vs 8 workspaces with one writer each.
const hotChained = await rate(
  () => Promise.all(Array.from({ length: 4 }, () => chained(db.app, hot.workspaceId, rows / 4))),
  rows,
);
const hotPlain = await rate(
  () => Promise.all(Array.from({ length: 4 }, () => plain(db.app, plainHot.workspaceId, rows / 4))),
  rows,
);
const eight = await Promise.all(Array.from({ length: 8 }, () => createTenant(db.owner)));
const eightPlain = await Promise.all(Array.from({ length: 8 }, () => createTenant(db.owner)));
const wideChained = await rate(() => Promise.all(eight.map((t) => chained(db.app, t.workspaceId, rows / 8))), rows);
const widePlain = await rate(() => Promise.all(eightPlain.map((t) => plain(db.app, t.workspaceId, rows / 8))), rows);

const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
const signer = await signerFromPkcs8(
  Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64"),
);
let verified = 0;
const verifyRate = await rate(async () => {
  const result = await withTenant(db.app, hot.workspaceId, (tx) => verifyWorkspace(tx, hot.workspaceId, signer));
  verified = result.rows;
  if (!result.ok) throw new Error(`chain broken: ${result.reason}`);
}, rows);

await db.dispose();
await stopPostgresServer();
const f = (x: number) => x.toFixed(0);
console.log(`engine ${kind}, ${rows} rows per case, one transaction per row`);
console.log("| case | chained appends/s | plain inserts/s | ratio |");
console.log("|---|---|---|---|");
console.log(
  `| one hot workspace, 4 writers | ${f(hotChained)} | ${f(hotPlain)} | ${(hotChained / hotPlain).toFixed(2)} |`,
);
console.log(
  `| 8 workspaces in parallel | ${f(wideChained)} | ${f(widePlain)} | ${(wideChained / widePlain).toFixed(2)} |`,
);
console.log(`verification: ${f(verifyRate)} rows/s (${verified} rows, chain recomputed)`);
