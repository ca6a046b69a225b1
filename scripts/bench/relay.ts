// A query through the relay against the same query run directly, in one run (the machine is shared: ratios, not
// absolutes). The relay path: POST /v1/connectors/{id}/query on the compiled `serve` → WebSocket → the compiled
// `causeloop relay` (libpg-query policy check, BEGIN READ ONLY on its own postgres.js pool, masking) → back.
// Baselines on the customer's PostgreSQL 16 as the relay's read-only role, postgres.js, pool 4 like the relay's:
//  - direct: the statement alone;
//  - read-only tx: BEGIN READ ONLY; the statement; ROLLBACK;
//  - relay's statements: the relay's exact sequence (BEGIN READ ONLY, four SET LOCAL, the statement, ROLLBACK);
//  - relay's executor: the relay's own code in this process (createPostgresExecutor().run: the policy check,
//    those statements, the rows read through a cursor), without masking or the network.
// Interleaved: `rounds` rounds, in each every query and every path (order rotated per round) runs `n` sequential
// queries, then `n` × 2 with `concurrency` in flight. Where the relay's time goes: the server's wall time
// (`duration_ms` of the answer), the relay's own (`duration_ms` of its audit log line for the same query id),
// and, in-process, the policy check, masking and the relay log's append (write + fsync). A second `serve` on the
// same database measures the routed path (the instance that does not hold the socket); failed relay queries are
// counted and printed with the servers' warnings, not timed.
//   bun scripts/bench/relay.ts [rounds] [n] [concurrency]
import postgres from "postgres";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRelayConfig, type PostgresDatabase } from "../../src/relay/agent/config.ts";
import { RelayLog } from "../../src/relay/agent/audit-log.ts";
import { createMasker } from "../../src/relay/masking/index.ts";
import { checkSql } from "../../src/relay/policy/sql.ts";
import { createPostgresExecutor } from "../../src/relay/executors/postgres.ts";
import { compiledBinary, runBinary, startServe } from "../../test/helpers/binary.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";
import { customerDatabase } from "../../test/helpers/relay.ts";

const rounds = Number(process.argv[2] ?? 5);
const n = Number(process.argv[3] ?? 40);
const concurrency = Number(process.argv[4] ?? 8);

const QUERIES = [
  { name: "point lookup", sql: "select id, name, email, phone from customers where id = 2" },
  { name: "100 rows", sql: "select id, customer_id, total, status from orders order by id limit 100" },
  { name: "aggregate", sql: "select status, count(*), sum(total) from orders group by status" },
] as const;
const PATHS = [
  "direct",
  "read-only tx",
  "relay's statements",
  "relay's executor",
  "relay",
  "relay via another instance",
] as const;
type PathName = (typeof PATHS)[number];

function append<T>(lists: Record<string, T[]>, key: string, value: T): void {
  const list = lists[key] ?? [];
  list.push(value);
  lists[key] = list;
}

// What to undo, newest first, whether the run ends well or not.
const cleanups: Array<() => unknown> = [];
async function cleanUp() {
  for (const step of cleanups.reverse()) await Promise.resolve(step()).catch(() => {});
  await stopPostgresServer();
}
async function main() {
  const work = mkdtempSync(join(tmpdir(), "causeloop-bench-relay-"));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const db = await createTestDb("postgres");
  cleanups.push(() => db.dispose());
  const customer = await customerDatabase();
  cleanups.push(() => customer.dispose());
  // CAUSELOOP_BENCH_BINARY: measure another build (an earlier commit) with the same script.
  const binary = process.env.CAUSELOOP_BENCH_BINARY ?? (await compiledBinary());
  const env = {
    HOME: work,
    DATABASE_URL: db.databaseUrl as string,
    DATABASE_OWNER_URL: db.ownerUrl as string,
    CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    CAUSELOOP_LOG_LEVEL: "warn",
    CAUSELOOP_RATE_LIMIT_PER_MINUTE: "10000000",
    CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE: "10000000",
    CAUSELOOP_MAX_IN_FLIGHT: "100000",
  };
  const onboarded = await runBinary(
    ["onboard", "acme", "--name", "Acme", "--admin-email", "ops@acme.example", "--json"],
    env,
  );
  if (onboarded.code !== 0) throw new Error(`onboard failed: ${onboarded.stderr}`);
  const { admin_token: token, workspace_id: ws } = JSON.parse(onboarded.stdout) as Record<string, string>;
  const relayToken = await runBinary(
    ["relay-token", "create", "--workspace", ws as string, "--name", "bench", "--json"],
    env,
  );
  if (relayToken.code !== 0) throw new Error(`relay-token create failed: ${relayToken.stderr}`);

  const serve = await startServe([], env);
  cleanups.push(() => serve.stop());
  // A second instance on the same database: its queries reach the relay through relay_queries and NOTIFY.
  const other = await startServe([], env);
  cleanups.push(() => other.stop());
  const configPath = join(work, "relay.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      server: serve.url,
      token: (JSON.parse(relayToken.stdout) as { token: string }).token,
      databases: [{ name: "main", kind: "postgres", url: customer.readerUrl }],
      policy: { postgres: { tables: { allow: ["public.customers", "public.orders"] } } },
    }),
  );
  let relayOutput = "";
  const relay = Bun.spawn([binary, "relay", "--config", configPath, "--log-format", "json"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work },
    stdout: "pipe",
    stderr: "pipe",
  });
  cleanups.push(() => {
    relay.kill("SIGKILL");
    return relay.exited;
  });
  for (const stream of [relay.stdout, relay.stderr])
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) relayOutput += decoder.decode(chunk);
    })();

  type Answer = { id: string; duration_ms: number; row_count: number; rows: unknown[][]; columns: string[] };
  async function viaRelay(connectorId: string, sql: string, base = serve.url): Promise<Answer> {
    const response = await fetch(`${base}/v1/connectors/${connectorId}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      // A 2 s statement limit: a lost query costs its wait (limit + 8 s), not the default 23 s.
      body: JSON.stringify({ sql, timeout_ms: 2_000 }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`relay query answered ${response.status}: ${text}`);
    return JSON.parse(text) as Answer;
  }

  const connectorId = await (async () => {
    const deadline = Date.now() + 45_000;
    for (;;) {
      try {
        const list = (await (
          await fetch(`${serve.url}/v1/connectors`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { data: { id: string; display_name: string }[] };
        const found = list.data.find((c) => c.display_name === "bench/main");
        if (found && (await viaRelay(found.id, "select 1 as one"))) return found.id;
      } catch {
        // not connected yet
      }
      if (Date.now() > deadline) throw new Error(`the relay did not answer: ${relayOutput.slice(-2000)}`);
      await Bun.sleep(200);
    }
  })();

  // Pool of 4 and no prepared statements: as the relay's own pool (src/relay/executors/postgres.ts).
  const direct = postgres(customer.readerUrl, { max: 4, prepare: false, onnotice: () => {} });
  cleanups.push(() => direct.end());
  const config = loadRelayConfig(configPath);
  const database = config.databases[0] as PostgresDatabase;
  const executor = createPostgresExecutor({ name: database.name, url: database.url, policy: database.policy });
  cleanups.push(() => executor.close());
  const readOnly = async (sql: string, relayStatements: boolean) => {
    const conn = await direct.reserve();
    try {
      await conn.unsafe("BEGIN READ ONLY");
      if (relayStatements) {
        await conn.unsafe("SET LOCAL statement_timeout = 15000");
        await conn.unsafe("SET LOCAL lock_timeout = 15000");
        await conn.unsafe("SET LOCAL idle_in_transaction_session_timeout = 25000");
        await conn.unsafe('SET LOCAL search_path = "public"');
      }
      return await conn.unsafe(sql).values();
    } finally {
      await conn.unsafe("ROLLBACK");
      conn.release();
    }
  };

  let phase: "seq" | "c" = "seq";
  const serverMs = new Map<string, number>(); // query id → the server's duration_ms
  const queryIds: Record<string, string[]> = {};
  const run: Record<PathName, (query: (typeof QUERIES)[number]) => Promise<unknown>> = {
    direct: (q) => direct.unsafe(q.sql).values(),
    "read-only tx": (q) => readOnly(q.sql, false),
    "relay's statements": (q) => readOnly(q.sql, true),
    "relay's executor": (q) =>
      executor.run({ sql: q.sql }, { timeoutMs: 15_000, maxRows: 1_000, maxBytes: 4 * 1024 * 1024 }),
    relay: async (q) => {
      const answer = await viaRelay(connectorId, q.sql);
      serverMs.set(answer.id, answer.duration_ms);
      append(queryIds, `${q.name}|${phase}`, answer.id);
      return answer;
    },
    "relay via another instance": (q) => viaRelay(connectorId, q.sql, other.url),
  };

  const samples: Record<string, number[]> = {};
  const wall: Record<string, number[]> = {}; // concurrent batches: total wall time, for throughput
  // A failed relay query is counted with the time it took and the server's answer, not timed with the rest.
  const failures: { key: string; ms: number; error: string }[] = [];
  const timed = async (key: string, fn: () => Promise<unknown>) => {
    const started = performance.now();
    try {
      await fn();
    } catch (error) {
      failures.push({ key, ms: performance.now() - started, error: (error as Error).message });
      return;
    }
    append(samples, key, performance.now() - started);
  };

  for (const q of QUERIES)
    for (const path of PATHS) for (let i = 0; i < 10; i++) await timed("warm-up", () => run[path](q));
  for (const ids of Object.values(queryIds)) ids.length = 0;
  for (let round = 0; round < rounds; round++) {
    const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length] as PathName);
    for (const q of QUERIES) {
      phase = "seq";
      for (const path of order) for (let i = 0; i < n; i++) await timed(`${q.name}|${path}|seq`, () => run[path](q));
      phase = "c";
      for (const path of order) {
        let left = n * 2;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (left-- > 0) await timed(`${q.name}|${path}|c`, () => run[path](q));
          }),
        );
        append(wall, `${q.name}|${path}`, (n * 2) / ((performance.now() - started) / 1000));
      }
    }
  }

  relay.kill("SIGTERM"); // drains, then closes its log
  await relay.exited;
  // The relay's own time per query, from its hash-chained log (written before each answer leaves).
  const relayMs = new Map<string, number>();
  for (const line of readFileSync(join(work, "causeloop-relay-audit.jsonl"), "utf8").split("\n").filter(Boolean)) {
    const entry = JSON.parse(line) as { event: string; query_id?: string; duration_ms?: number };
    if (entry.event === "query" && entry.query_id) relayMs.set(entry.query_id, entry.duration_ms ?? 0);
  }

  // In-process costs of the relay's steps, on this machine, in the same run.
  const policy = database.policy;
  const masker = createMasker(config.masking, crypto.getRandomValues(new Uint8Array(32)));
  const perCall = async (fn: () => unknown, times: number) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const started = performance.now();
      for (let i = 0; i < times; i++) await fn();
      runs.push((performance.now() - started) / times);
    }
    return Math.min(...runs);
  };
  const inProcess: { name: string; check: number; mask: number; stringify: number }[] = [];
  for (const q of QUERIES) {
    const result = await direct.unsafe(q.sql).values();
    const columns = result.columns.map((c) => c.name);
    const rows = (result as unknown as unknown[][]).map((row) =>
      row.map((v) => (typeof v === "bigint" ? String(v) : v)),
    );
    inProcess.push({
      name: q.name,
      check: await perCall(() => checkSql(q.sql, policy), 200),
      mask: await perCall(() => masker.maskRows(columns, rows), 200),
      stringify: await perCall(() => JSON.stringify(rows), 200),
    });
  }
  const logPath = join(work, "fsync-probe.jsonl");
  const probe = new RelayLog(logPath);
  const appendMs = await perCall(
    () =>
      probe.append({ event: "query", query_id: "rlq_probe", fingerprint: "0".repeat(64), tables: ["public.orders"] }),
    50,
  );
  probe.close();

  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const f = (x: number, digits = 2) => x.toFixed(digits);
  const s = (q: string, path: PathName, mode: "seq" | "c") => samples[`${q}|${path}|${mode}`] ?? [];

  console.log(
    `\nRelay query latency: ${rounds} rounds x ${n} sequential + ${n * 2} at ${concurrency} in flight per query and path, interleaved; ms.`,
  );
  console.log(
    "Shared 2-core machine: serve, the relay, PostgreSQL and this client share both cores; read ratios, not absolutes.",
  );
  for (const mode of ["seq", "c"] as const) {
    console.log(mode === "seq" ? "\nSequential (one in flight)" : `\n${concurrency} in flight`);
    console.log(
      "| query | direct p50 / p95 | read-only tx p50 | relay's statements p50 | relay's executor p50 | relay p50 / p95 | relay / direct p50 | relay / read-only tx p50 | queries/s direct / relay |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|");
    for (const q of QUERIES) {
      const d = s(q.name, "direct", mode);
      const r = s(q.name, "relay", mode);
      const tx = pct(s(q.name, "read-only tx", mode), 0.5);
      const rate = (path: PathName) => pct(wall[`${q.name}|${path}`] ?? [], 0.5);
      const rates = mode === "c" ? `${f(rate("direct"), 0)} / ${f(rate("relay"), 0)}` : "";
      console.log(
        `| ${q.name} | ${f(pct(d, 0.5))} / ${f(pct(d, 0.95))} | ${f(tx)} | ${f(pct(s(q.name, "relay's statements", mode), 0.5))} | ${f(pct(s(q.name, "relay's executor", mode), 0.5))} | ${f(pct(r, 0.5))} / ${f(pct(r, 0.95))} | ${f(pct(r, 0.5) / pct(d, 0.5), 1)} | ${f(pct(r, 0.5) / tx, 1)} | ${rates} |`,
      );
    }
  }

  console.log(
    "\nThrough the instance that does not hold the relay's socket (relay_queries + NOTIFY to the one that does)",
  );
  console.log("| query | in flight | p50 / p95 / max | p50 / same-instance p50 | answers over 900 ms |");
  console.log("|---|---|---|---|---|");
  for (const mode of ["seq", "c"] as const)
    for (const q of QUERIES) {
      const r = s(q.name, "relay via another instance", mode);
      console.log(
        `| ${q.name} | ${mode === "seq" ? 1 : concurrency} | ${f(pct(r, 0.5))} / ${f(pct(r, 0.95))} / ${f(Math.max(...r))} | ${f(pct(r, 0.5) / pct(s(q.name, "relay", mode), 0.5), 1)} | ${r.filter((x) => x > 900).length} of ${r.length} |`,
      );
    }

  console.log(`Failed relay queries: ${failures.length}`);
  for (const failure of failures)
    console.log(`  ${failure.key}: after ${f(failure.ms, 0)} ms: ${failure.error.slice(0, 300)}`);
  const warnings = [serve, other].flatMap((instance) =>
    instance
      .output()
      .split("\n")
      .filter((line) => /routed_query_failed|message_failed/.test(line)),
  );
  if (warnings.length > 0)
    console.log(`The servers' warnings about routed queries:\n${warnings.slice(0, 5).join("\n")}`);

  console.log(
    "\nWhere a relay query's time goes (means in ms over the run; the server's and the relay's figures are whole ms)",
  );
  console.log(
    "| query | in flight | client wall | server duration_ms | relay duration_ms | server - relay | client - server |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const mode of ["seq", "c"] as const)
    for (const q of QUERIES) {
      const ids = queryIds[`${q.name}|${mode}`] ?? [];
      const clientMs = mean(s(q.name, "relay", mode));
      const server = mean(ids.map((id) => serverMs.get(id) ?? Number.NaN));
      const own = mean(ids.map((id) => relayMs.get(id) ?? Number.NaN));
      console.log(
        `| ${q.name} | ${mode === "seq" ? 1 : concurrency} | ${f(clientMs)} | ${f(server)} | ${f(own)} | ${f(server - own)} | ${f(clientMs - server)} |`,
      );
    }
  console.log("\nIn-process, per call (best of 5 x 200): the relay's policy check and masking, against JSON.stringify");
  console.log("| query | checkSql (libpg-query) ms | maskRows ms | JSON.stringify ms | maskRows / stringify |");
  console.log("|---|---|---|---|---|");
  for (const r of inProcess)
    console.log(
      `| ${r.name} | ${f(r.check, 3)} | ${f(r.mask, 3)} | ${f(r.stringify, 4)} | ${f(r.mask / r.stringify, 0)} |`,
    );
  console.log(
    `Relay log append (one line, write + fsync, ${tmpdir()}): ${f(appendMs, 3)} ms per query, best of 5 x 50; it runs on the relay's event loop before each answer is sent.`,
  );
}

try {
  await main();
} catch (error) {
  console.error(error);
  await cleanUp();
  process.exit(1);
}
await cleanUp();
process.exit(0);
