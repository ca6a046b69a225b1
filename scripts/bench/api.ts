// The hot path against its baselines, in one run (the machine is shared: ratios, not absolutes):
//  - Causeloop: the compiled binary on PostgreSQL 16, GET /v1/issues/{id} with a personal access token;
//  - a hand-written server (Bun.serve + postgres.js, pool 10) doing the same work: hash the bearer token, one
//    RLS transaction (set_config, the token, the row) with prepared statements, the row as JSON;
//  - pgbench replaying the raw read transaction (BEGIN; set_config; SELECT the row; COMMIT), prepared;
//  - Causeloop on embedded PGlite, for the absolute figure and idle memory.
// wrk (Debian package) at 16 and 64 connections, interleaved, `reps` repetitions; server CPU per request from
// /proc/<pid>/stat (utime + stime) over each run.
//   bun scripts/bench/api.ts [seconds] [reps]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, freePort, runBinary } from "../../test/helpers/binary.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const seconds = Number(process.argv[2] ?? 10);
const reps = Number(process.argv[3] ?? 3);
for (const tool of ["wrk", "pgbench"])
  if (!Bun.which(tool)) throw new Error(`${tool} is required (apt-get install wrk postgresql-client-15)`);

const work = mkdtempSync(join(tmpdir(), "causeloop-bench-api-"));
const db = await createTestDb("postgres");
// CAUSELOOP_BENCH_BINARY: measure another build (an earlier commit) with the same script.
const binary = process.env.CAUSELOOP_BENCH_BINARY ?? (await compiledBinary());
const env = {
  PATH: process.env.PATH ?? "",
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

async function startProcess(
  cmd: string[],
  extraEnv: Record<string, string>,
  ready: string,
  base: Record<string, string> = env,
) {
  const proc = Bun.spawn(cmd, { env: { ...base, ...extraEnv }, stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(ready)).status === 200) return proc;
    } catch {}
    await Bun.sleep(100);
  }
  throw new Error(`${cmd.join(" ")} did not start`);
}

const causeloopPort = await freePort();
const causeloop = await startProcess(
  [binary, "serve", "--port", String(causeloopPort)],
  {},
  `http://127.0.0.1:${causeloopPort}/readyz`,
);
const issue = (await (
  await fetch(`http://127.0.0.1:${causeloopPort}/v1/issues`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title: "Checkout latency above 2 s", severity: "high" }),
  })
).json()) as { id: string };

// The hand-written server: the same work in about 40 lines.
const handPath = join(work, "hand.ts");
writeFileSync(
  handPath,
  `import postgres from "${join(import.meta.dir, "../../node_modules/postgres/src/index.js")}";
const sql = postgres(process.env.DATABASE_URL, { max: 10 });
const hash = (t) => new Bun.CryptoHasher("sha256").update(t).digest("hex");
Bun.serve({ port: Number(process.env.PORT), hostname: "127.0.0.1", async fetch(req) {
  const url = new URL(req.url);
  if (url.pathname === "/ready") return new Response("ok");
  const token = (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
  const m = /^clp_pat_([0-9a-z]{26})_/.exec(token);
  if (!m) return new Response("", { status: 401 });
  const ws = "ws_" + m[1];
  const id = url.pathname.split("/").pop();
  const row = await sql.begin(async (t) => {
    await t\`select set_config('app.current_workspace', \${ws}, true)\`;
    const [tok] = await t\`select id, role, revoked_at from personal_access_tokens where workspace_id = \${ws} and pat_hash = \${hash(token)}\`;
    if (!tok || tok.revoked_at) return null;
    const [r] = await t\`select id, workspace_id, title, body, status, severity, reporter_email, created_by, created_at, updated_at from issues where workspace_id = \${ws} and id = \${id} and deleted_at is null\`;
    return r ?? null;
  });
  return row ? Response.json(row) : new Response("", { status: 404 });
}});
`,
);
const handPort = await freePort();
const hand = await startProcess(["bun", handPath], { PORT: String(handPort) }, `http://127.0.0.1:${handPort}/ready`);

const pgbenchScript = join(work, "read.sql");
writeFileSync(
  pgbenchScript,
  `BEGIN;
SELECT set_config('app.current_workspace', '${ws}', true);
SELECT id, workspace_id, title, body, status, severity, reporter_email, created_by, created_at, updated_at FROM issues WHERE workspace_id = '${ws}' AND id = '${issue.id}' AND deleted_at IS NULL;
COMMIT;
`,
);

const cpuTicks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100 per second)
};

async function wrk(url: string, connections: number, pid: number, bearer = token, duration = seconds) {
  const before = cpuTicks(pid);
  const proc = Bun.spawn(
    ["wrk", "-t2", `-c${connections}`, `-d${duration}s`, "--latency", "-H", `Authorization: Bearer ${bearer}`, url],
    { stdout: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  const cpu = (cpuTicks(pid) - before) * 10; // ms
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (!m) return Number.NaN;
    return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
  };
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers from ${url}:\n${out}`);
  return { rate, p50: ms("50"), p99: ms("99"), cpuPerRequest: cpu / total };
}

async function pgbench(connections: number, url = db.databaseUrl as string) {
  // -l: every transaction's latency in pgbench_log.* (microseconds, third field), for the median.
  const logDir = mkdtempSync(join(work, "pgbench-log-"));
  const proc = Bun.spawn(
    [
      "pgbench",
      "-n",
      "-M",
      "prepared",
      `-c${connections}`,
      `-j${Math.min(connections, 2)}`,
      `-T${seconds}`,
      "-l",
      "-f",
      pgbenchScript,
      url,
    ],
    { stdout: "pipe", stderr: "pipe", cwd: logDir },
  );
  const out = await new Response(proc.stdout).text();
  const latencies: number[] = [];
  for (const file of readdirSync(logDir))
    for (const line of readFileSync(join(logDir, file), "utf8").split("\n"))
      if (line) latencies.push(Number(line.split(" ")[2]) / 1000);
  rmSync(logDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    tps: Number(/tps = ([\d.]+)/.exec(out)?.[1]),
    latency: Number(/latency average = ([\d.]+) ms/.exec(out)?.[1]),
    p50: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN,
  };
}

type Row = { rate: number[]; p50: number[]; p99: number[]; cpu: number[] };
const results: Record<string, Row> = {};
const record = (name: string, r: { rate: number; p50: number; p99: number; cpuPerRequest: number }) => {
  results[name] ??= { rate: [], p50: [], p99: [], cpu: [] };
  results[name].rate.push(r.rate);
  results[name].p50.push(r.p50);
  results[name].p99.push(r.p99);
  results[name].cpu.push(r.cpuPerRequest);
};
const pgbenchRates: number[] = [];
const causeloopUrl = `http://127.0.0.1:${causeloopPort}/v1/issues/${issue.id}`;
const handUrl = `http://127.0.0.1:${handPort}/v1/issues/${issue.id}`;
await wrk(causeloopUrl, 16, causeloop.pid); // warm-up
await wrk(handUrl, 16, hand.pid);
for (let rep = 0; rep < reps; rep++) {
  for (const c of [16, 64]) {
    record(`causeloop c${c}`, await wrk(causeloopUrl, c, causeloop.pid));
    record(`hand-written c${c}`, await wrk(handUrl, c, hand.pid));
  }
  pgbenchRates.push((await pgbench(16)).tps);
}
// Row-Level Security's own cost: the same transaction and prepared query as the runtime role (RLS applies)
// and as the owner (a superuser here: RLS bypassed, the explicit WHERE workspace_id alone), interleaved.
type Pgbench = Awaited<ReturnType<typeof pgbench>>;
const rls: Pgbench[] = [];
const noRls: Pgbench[] = [];
const rls1: Pgbench[] = [];
const noRls1: Pgbench[] = [];
for (let rep = 0; rep < reps; rep++) {
  rls.push(await pgbench(16));
  noRls.push(await pgbench(16, db.ownerUrl as string));
  rls1.push(await pgbench(1));
  noRls1.push(await pgbench(1, db.ownerUrl as string));
}
causeloop.kill();
hand.kill();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

// Embedded mode: the binary on PGlite.
const dataDir = join(work, "pglite");
const { DATABASE_URL: _url, DATABASE_OWNER_URL: _owner, CAUSELOOP_MASTER_KEY: _key, ...embeddedEnv } = env;
const pgliteOnboard = await runBinary(
  ["onboard", "acme", "--name", "Acme", "--admin-email", "ops@acme.example", "--json", "--data-dir", dataDir],
  embeddedEnv,
);
const pgliteToken = (JSON.parse(pgliteOnboard.stdout) as { admin_token: string }).admin_token;
const embeddedPort = await freePort();
const embedded = await startProcess(
  [binary, "serve", "--port", String(embeddedPort), "--data-dir", dataDir],
  {},
  `http://127.0.0.1:${embeddedPort}/readyz`,
  embeddedEnv,
);
// Idle memory twice: once the start's own work is done (the scheduler's catch-up starts a second after ready on
// this engine), and again after the first isolation attestation (10 s after start), which grows PGlite's heap.
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${embedded.pid}/status`, "utf8"))?.[1]) / 1024;
await Bun.sleep(5000);
const idleRss = rssMiB();
const embeddedIssue = (await (
  await fetch(`http://127.0.0.1:${embeddedPort}/v1/issues`, {
    method: "POST",
    headers: { authorization: `Bearer ${pgliteToken}`, "content-type": "application/json" },
    body: JSON.stringify({ title: "Embedded" }),
  })
).json()) as { id: string };
// Measured once the start's own work is done (the catch-up jobs, the first isolation attestation at 10 s hold
// the one connection for about a second each): a run right after start measured them, not the GET.
await Bun.sleep(12_000);
const idleRssAfterAttestation = rssMiB();
const embeddedUrl = `http://127.0.0.1:${embeddedPort}/v1/issues/${embeddedIssue.id}`;
await wrk(embeddedUrl, 16, embedded.pid, pgliteToken, 3); // warm-up
const embeddedRuns: number[] = [];
for (let rep = 0; rep < reps; rep++) embeddedRuns.push((await wrk(embeddedUrl, 16, embedded.pid, pgliteToken)).rate);
const embeddedRun = median(embeddedRuns);
embedded.kill();

const m = (name: string, field: keyof Row) => median(results[name]?.[field] ?? []);
console.log(`\nGET /v1/issues/{id}, wrk ${seconds} s x ${reps} interleaved, medians (range of req/s)`);
console.log("| server | connections | req/s | range | p50 ms | p99 ms | server CPU ms/request |");
console.log("|---|---|---|---|---|---|---|");
for (const name of Object.keys(results)) {
  const r = results[name] as Row;
  console.log(
    `| ${name.split(" c")[0]} | ${name.split(" c")[1]} | ${m(name, "rate").toFixed(0)} | ${Math.min(...r.rate).toFixed(0)}-${Math.max(...r.rate).toFixed(0)} | ${m(name, "p50").toFixed(2)} | ${m(name, "p99").toFixed(2)} | ${m(name, "cpu").toFixed(3)} |`,
  );
}
const pg = median(pgbenchRates);
const rlsLatency = median(rls.map((r) => r.latency));
const ownerLatency = median(noRls.map((r) => r.latency));
console.log(
  `RLS overhead (pgbench, same prepared transaction, 16 clients): app role ${median(rls.map((r) => r.tps)).toFixed(0)} tps / ${rlsLatency.toFixed(3)} ms average, owner without RLS ${median(noRls.map((r) => r.tps)).toFixed(0)} tps / ${ownerLatency.toFixed(3)} ms: ${((rlsLatency / ownerLatency - 1) * 100).toFixed(1)} % more latency under RLS`,
);
for (const [label, app, own] of [
  ["16 clients", rls, noRls],
  ["1 client", rls1, noRls1],
] as const) {
  const a = median(app.map((r) => r.p50));
  const o = median(own.map((r) => r.p50));
  console.log(
    `RLS overhead at p50, ${label}: app role ${a.toFixed(3)} ms, owner ${o.toFixed(3)} ms: ${((a / o - 1) * 100).toFixed(1)} %`,
  );
}
console.log(`pgbench (raw read transaction, prepared, 16 connections): ${pg.toFixed(0)} tps`);
for (const c of [16, 64])
  console.log(
    `ratio causeloop/hand-written at ${c}: ${(m(`causeloop c${c}`, "rate") / m(`hand-written c${c}`, "rate")).toFixed(2)}; p99 ratio ${(m(`causeloop c${c}`, "p99") / m(`hand-written c${c}`, "p99")).toFixed(2)}`,
  );
console.log(
  `ratio causeloop/pgbench at 16: ${(m("causeloop c16", "rate") / pg).toFixed(3)}; hand-written/pgbench: ${(m("hand-written c16", "rate") / pg).toFixed(3)}`,
);
console.log(
  `embedded (PGlite) at 16 connections: ${embeddedRun.toFixed(0)} req/s (median of ${reps}, range ${Math.min(...embeddedRuns).toFixed(0)}-${Math.max(...embeddedRuns).toFixed(0)}); idle RSS ${idleRss.toFixed(0)} MiB 5 s after ready, ${idleRssAfterAttestation.toFixed(0)} MiB after the first isolation attestation`,
);
await db.dispose();
await stopPostgresServer();
rmSync(work, { recursive: true, force: true });
process.exit(0);
