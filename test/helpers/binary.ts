// The compiled binary for end-to-end tests: built once per run when missing or older than the sources.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "dist", "causeloop");

function newestSource(): number {
  let newest = 0;
  for (const dir of ["src", "cli", "tui", "db"]) {
    const path = join(ROOT, dir);
    if (!existsSync(path)) continue;
    for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  for (const file of ["package.json", "scripts/build.ts", "scripts/pglite-template.ts"])
    newest = Math.max(newest, statSync(join(ROOT, file)).mtimeMs);
  return newest;
}

let building: Promise<string> | undefined;

export function compiledBinary(): Promise<string> {
  building ??= (async () => {
    if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= newestSource()) return BINARY;
    const build = Bun.spawn(["bun", "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if ((await build.exited) !== 0) throw new Error(`build failed: ${await new Response(build.stderr).text()}`);
    return BINARY;
  })();
  return building;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion with a clean environment plus `env`. */
export async function runBinary(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<RunResult> {
  const binary = await compiledBinary();
  const proc = Bun.spawn([binary, ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      CAUSELOOP_LOG_LEVEL: "warn",
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** `causeloop onboard <slug>` on an embedded data dir (admin ops@<slug>.com), the way the end-to-end tests set a tenant up. */
export function onboardTenant(slug: string, dataDir: string, extra: string[] = []): Promise<RunResult> {
  const name = `${slug[0]?.toUpperCase()}${slug.slice(1)}`;
  return runBinary([
    "onboard",
    slug,
    "--name",
    name,
    "--admin-email",
    `ops@${slug}.com`,
    "--data-dir",
    dataDir,
    ...extra,
  ]);
}

/** `causeloop onboard acme`: the tenant most end-to-end tests start with. */
export function onboardAcme(dataDir: string, extra: string[] = []): Promise<RunResult> {
  return onboardTenant("acme", dataDir, extra);
}

export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

export interface ServeProcess {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/** Starts `serve` and waits for /readyz 200 (or for the process to exit, which is returned as an error). */
export async function startServe(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<ServeProcess> {
  const binary = await compiledBinary();
  // A test that restarts a server on the same port passes its own --port.
  const given = args.indexOf("--port");
  const port = given >= 0 ? Number(args[given + 1]) : await freePort();
  let output = "";
  const proc = Bun.spawn([binary, "serve", ...(given >= 0 ? [] : ["--port", String(port)]), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk);
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  // With --tls-cert the server speaks HTTPS (its certificate is the test's own: not verified here).
  const url = `${args.includes("--tls-cert") ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`serve exited with ${proc.exitCode}: ${output}`);
    try {
      const response = await fetch(`${url}/readyz`, { tls: { rejectUnauthorized: false } });
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`serve not ready within ${timeoutMs} ms: ${output}`);
    }
    await Bun.sleep(100);
  }
  return {
    proc,
    url,
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      proc.kill(signal);
      return proc.exited;
    },
  };
}
