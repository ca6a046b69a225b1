// Startup and memory of the compiled binary: time from process start to /readyz 200 on PGlite (first start
// on an empty data dir, from the embedded template; then later starts) and on PostgreSQL 16, the demo's time
// until it prints its sign-in, and idle RSS in both modes. The baseline in the same run is
// `causeloop --version` (process start with no database), so figures are ratios to it. Targets (issue 15):
// first start <= 1.5 s and <= 12x the baseline, later start <= 5x.
//   bun scripts/bench/startup.ts [runs]
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, freePort } from "../../test/helpers/binary.ts";
import { createTestDb } from "../../test/helpers/db.ts";
import { stopPostgresServer } from "../../test/helpers/postgres-server.ts";

const runs = Number(process.argv[2] ?? 5);
// CAUSELOOP_BENCH_BINARY: measure another build (an earlier commit) with the same script.
const binary = process.env.CAUSELOOP_BENCH_BINARY ?? (await compiledBinary());

async function timeToReady(args: string[], env: Record<string, string>): Promise<{ ms: number; rssMiB: number }> {
  const port = await freePort();
  const started = performance.now();
  const proc = Bun.spawn([binary, "serve", "--port", String(port), ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CAUSELOOP_LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "ignore",
  });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`serve exited with ${proc.exitCode} before it was ready`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch {
      // not yet
    }
    if (performance.now() - started > 120_000) throw new Error("not ready in 120 s");
    await Bun.sleep(5);
  }
  const ms = performance.now() - started;
  await Bun.sleep(2000); // idle
  const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  proc.kill("SIGTERM");
  await proc.exited;
  return { ms, rssMiB: rssKiB / 1024 };
}

/** `causeloop demo` from process start until it has seeded its workspace and printed the sign-in. */
async function demoReady(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const proc = Bun.spawn([binary, "demo", "--port", String(port)], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CAUSELOOP_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "pipe",
  });
  const decoder = new TextDecoder();
  let seen = "";
  for await (const chunk of proc.stderr) {
    seen += decoder.decode(chunk);
    if (seen.includes("Stop with Ctrl-C")) break;
  }
  const ms = performance.now() - started;
  if (!seen.includes("Stop with Ctrl-C")) throw new Error(`demo ended before it was ready: ${seen.slice(-500)}`);
  proc.kill("SIGTERM");
  await proc.exited;
  return ms;
}

async function baseline(): Promise<number> {
  const started = performance.now();
  await Bun.spawn([binary, "--version"], { stdout: "ignore" }).exited;
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const base: number[] = [];
const first: number[] = [];
const later: number[] = [];
const pg: number[] = [];
const demo: number[] = [];
const rss = { pglite: [] as number[], postgres: [] as number[] };

const db = await createTestDb("postgres");
const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const keysDir = mkdtempSync(join(tmpdir(), "causeloop-bench-keys-")); // the JWT, audit and RTBF keys of the PostgreSQL runs
for (let i = 0; i < runs; i++) {
  base.push(await baseline());
  const dir = mkdtempSync(join(tmpdir(), "causeloop-bench-"));
  first.push((await timeToReady(["--data-dir", dir], {})).ms);
  const again = await timeToReady(["--data-dir", dir], {});
  later.push(again.ms);
  rss.pglite.push(again.rssMiB);
  rmSync(dir, { recursive: true, force: true });
  demo.push(await demoReady());
  const p = await timeToReady([], {
    DATABASE_URL: db.databaseUrl as string,
    CAUSELOOP_MASTER_KEY: masterKey,
    CAUSELOOP_DATA_DIR: keysDir,
  });
  pg.push(p.ms);
  rss.postgres.push(p.rssMiB);
}
await db.dispose();
await stopPostgresServer();
rmSync(keysDir, { recursive: true, force: true });

const b = median(base);
const row = (name: string, xs: number[]) =>
  `| ${name} | ${median(xs).toFixed(0)} ms | ${(median(xs) / b).toFixed(1)}x |`;
console.log(`binary: ${(statSync(binary).size / 1024 / 1024).toFixed(1)} MiB, ${runs} runs, medians`);
console.log("| start | to /readyz 200 | ratio to `--version` |");
console.log("|---|---|---|");
console.log(row("baseline: `causeloop --version`", base));
console.log(row("PGlite, first start (empty data dir: the embedded template, then newer migrations)", first));
console.log(row("PGlite, later start", later));
console.log(row("PostgreSQL 16 (local)", pg));
console.log(row("`causeloop demo` until its sign-in is printed (seeded through the services)", demo));
console.log(
  `idle RSS after start: PGlite ${median(rss.pglite).toFixed(0)} MiB, PostgreSQL ${median(rss.postgres).toFixed(0)} MiB`,
);
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
console.log(
  `targets: first start <= 1500 ms ${verdict(median(first) <= 1500)}, <= 12x ${verdict(median(first) / b <= 12)}; later start <= 5x ${verdict(median(later) / b <= 5)}`,
);
