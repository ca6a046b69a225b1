// `bun run build`: one executable, dist/causeloop, with the migrations, the reference SQL and PGlite's
// WebAssembly and file-system bundle embedded (imported as files/text by the sources themselves).
import { mkdirSync, statSync } from "node:fs";

const outfile = process.argv[2] ?? "dist/causeloop";
mkdirSync("dist", { recursive: true });
const started = performance.now();
// The commit the binary is built from (with "+dirty" when the tree has changes), for `causeloop --version`.
const git = (args: string[]) => {
  const run = Bun.spawnSync(["git", ...args], { stdout: "pipe", stderr: "ignore" });
  return run.exitCode === 0 ? run.stdout.toString().trim() : "";
};
const commit =
  (git(["rev-parse", "--short=12", "HEAD"]) || "unknown") + (git(["status", "--porcelain"]) ? "+dirty" : "");
const result = await Bun.build({
  entrypoints: ["cli/main.ts"],
  compile: { outfile },
  // Identifiers stay unmangled: Elysia's generated validators recognise TypeBox's TransformDecodeError by its
  // class name, so a mangled name silently skips query coercion and its checks (?limit=999999 reached SQL as a
  // string). Whitespace and syntax minification are safe.
  minify: { whitespace: true, syntax: true, identifiers: false },
  sourcemap: "linked",
  define: {
    "process.env.DEV": '"false"',
    CAUSELOOP_BUILD_COMMIT: JSON.stringify(commit),
    CAUSELOOP_BUILD_DATE: JSON.stringify(`${new Date().toISOString().slice(0, 19)}Z`),
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
const size = statSync(outfile).size;
console.log(
  `built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${Math.round(performance.now() - started)} ms`,
);
