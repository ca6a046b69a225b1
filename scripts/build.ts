// `bun run build`: one executable, dist/causeloop, with the migrations, the reference SQL, PGlite's
// WebAssembly and file-system bundle (imported as files/text by the sources themselves) and the embedded
// database template embedded. The build runs twice: the second lays the bytecode out by the functions a start
// of the first one used (recordStartProfiles below).
// `bun run build --release`: the same, cross-compiled for linux-x64 and linux-arm64 into dist/release/ as
// causeloop-<version>-linux-<arch>, with SHA256SUMS (`sha256sum -c SHA256SUMS` checks them; install.sh
// --binary installs one without building) and the SBOM, sbom.cdx.json. Bun fetches the other architecture's
// runtime from the npm registry.
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const release = process.argv.includes("--release");
const outfile = process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "dist/causeloop";
mkdirSync("dist", { recursive: true });
const started = performance.now();
// The commit the binary is built from (with "+dirty" when the tree has changes), for `causeloop --version`.
const git = (args: string[]) => {
  const run = Bun.spawnSync(["git", ...args], { stdout: "pipe", stderr: "ignore" });
  return run.exitCode === 0 ? run.stdout.toString().trim() : "";
};
const commit =
  (git(["rev-parse", "--short=12", "HEAD"]) || "unknown") + (git(["status", "--porcelain"]) ? "+dirty" : "");
const date = `${new Date().toISOString().slice(0, 19)}Z`;
// The embedded database template: a first start unpacks it instead of running initdb and every migration.
const template = "dist/pglite-template.tar.gz";
const made = Bun.spawnSync(["bun", "scripts/pglite-template.ts", template], { stdout: "inherit", stderr: "inherit" });
if (made.exitCode !== 0) process.exit(1);

/**
 * JSON files would be bundled as modules: they ride along under an extension with no loader instead
 * (src/security/evidence.ts finds them by name).
 */
function embeddedCopies(): string[] {
  const out: string[] = [];
  for (const name of ["sbom.cdx", "dependency-scan"]) {
    if (!existsSync(`dist/${name}.json`)) continue;
    copyFileSync(`dist/${name}.json`, `dist/${name}.embed`);
    out.push(`dist/${name}.embed`);
  }
  return out;
}

// Code that runs once at start rarely pays back the JIT's compile time (two cores here: the JIT threads and the
// start compete). The binary starts with JavaScriptCore's tier-up thresholds times 8; a long-running command puts
// them back once it is interactive (src/server.ts when ready, cli/warm.ts after a few seconds otherwise).
const START_JIT_POLICY = 8;

async function compile(
  out: string,
  target?: "bun-linux-x64" | "bun-linux-arm64",
  bytecodeOrder?: string[],
): Promise<void> {
  const result = await Bun.build({
    // The template rides along as an embedded file (Bun.embeddedFiles), under its own name.
    // So do the SBOM and (when CI ran it first) the dependency scan's result, for the evidence pack.
    entrypoints: ["cli/main.ts", template, ...embeddedCopies()],
    naming: { asset: "[name].[ext]" },
    compile: {
      outfile: out,
      ...(target ? { target } : {}),
      jitPolicy: START_JIT_POLICY,
      bytecodeOrder: bytecodeOrder?.length ? bytecodeOrder : null,
    },
    // Identifiers stay unmangled: Elysia's generated validators recognise TypeBox's TransformDecodeError by its
    // class name, so a mangled name silently skips query coercion and its checks (?limit=999999 reached SQL as
    // a string). Whitespace and syntax minification are safe.
    minify: { whitespace: true, syntax: true, identifiers: false },
    bytecode: true,
    format: "esm",
    sourcemap: "linked",
    define: {
      "process.env.DEV": '"false"',
      CAUSELOOP_BUILD_COMMIT: JSON.stringify(commit),
      CAUSELOOP_BUILD_DATE: JSON.stringify(date),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
  console.log(`built ${out} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB)`);
}

// The SBOM of what the binary carries (runtime dependencies through bun.lock), beside it.
const sbom = Bun.spawnSync(["bun", "scripts/sbom.ts", "dist/sbom.cdx.json"], { stdout: "inherit", stderr: "inherit" });
if (sbom.exitCode !== 0) process.exit(1);
/**
 * Profile-guided bytecode layout (Bun's --bytecode-order): the binary just built is started the way a start
 * is timed (scripts/bench/startup.ts), recording which functions it loads; the next build puts those first in
 * the executable, so a start reads and decodes less of it. Two starts of `serve` on a new embedded data dir:
 * the later one (the usual start) first, then the first one (template unpack, first migrations). Recorded on
 * every build, so the profile is never stale; a recording that fails leaves the layout as is (a warning).
 */
async function recordStartProfiles(binary: string): Promise<string[]> {
  const dir = join(tmpdir(), `causeloop-build-profile-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const serveOnce = async (profile: string) => {
    const probe = Bun.serve({ port: 0, fetch: () => new Response() });
    const port = probe.port;
    probe.stop(true);
    const proc = Bun.spawn([binary, "serve", "--port", String(port), "--data-dir", join(dir, "data")], {
      env: { PATH: process.env.PATH ?? "", HOME: dir, CAUSELOOP_LOG_LEVEL: "error", BUN_BYTECODE_ORDER_OUT: profile },
      stdout: "ignore",
      stderr: "pipe",
    });
    const deadline = performance.now() + 60_000;
    let ready = false;
    while (!ready && performance.now() < deadline && proc.exitCode === null) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (!ready) await Bun.sleep(20);
    }
    proc.kill("SIGTERM");
    await proc.exited;
    if (!ready) throw new Error(`serve did not become ready: ${(await new Response(proc.stderr).text()).slice(-300)}`);
    if (!existsSync(profile))
      throw new Error("this Bun wrote no profile (BUN_BYTECODE_ORDER_OUT needs a Bun with --bytecode-order)");
  };
  try {
    const first = "dist/bytecode-order/first.order";
    const later = "dist/bytecode-order/later.order";
    mkdirSync("dist/bytecode-order", { recursive: true });
    for (const profile of [first, later]) rmSync(profile, { force: true }); // a failed run leaves none behind
    await serveOnce(first);
    await serveOnce(later);
    return [later, first];
  } catch (error) {
    console.warn(`build: no start profile recorded (${(error as Error).message}); bytecode left in build order`);
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!release) {
  await compile(outfile);
  const profiles = await recordStartProfiles(outfile);
  if (profiles.length) await compile(outfile, undefined, profiles);
} else {
  const dir = "dist/release";
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const sums: string[] = [];
  // The profile is recorded with a native build; one profile serves every target.
  const native = `${dir}/causeloop-profile-run`;
  await compile(native);
  const profiles = await recordStartProfiles(native);
  rmSync(native, { force: true });
  rmSync(`${native}.map`, { force: true });
  for (const arch of ["x64", "arm64"] as const) {
    const out = `${dir}/causeloop-${pkg.version}-linux-${arch}`;
    await compile(out, `bun-linux-${arch}`, profiles);
    rmSync(`${out}.map`, { force: true });
    sums.push(`${createHash("sha256").update(readFileSync(out)).digest("hex")}  ${basename(out)}`);
  }
  copyFileSync("dist/sbom.cdx.json", `${dir}/sbom.cdx.json`);
  sums.push(
    `${createHash("sha256")
      .update(readFileSync(`${dir}/sbom.cdx.json`))
      .digest("hex")}  sbom.cdx.json`,
  );
  for (const stray of readdirSync(dir)) if (stray.endsWith(".map")) rmSync(`${dir}/${stray}`);
  writeFileSync(`${dir}/SHA256SUMS`, `${sums.join("\n")}\n`);
  console.log(`wrote ${dir}/SHA256SUMS`);
}
console.log(`in ${Math.round(performance.now() - started)} ms`);
