// Imported first by cli/main.ts, before the rest of the program loads:
//  - `--env-file FILE` (any command but setup, whose own --env-file is the file it writes): the file's
//    variables are set, unless the environment already sets them, and the flag is taken out of argv;
//  - a command that will open the embedded database compiles PGlite's WebAssembly now, before the rest of the
//    program loads: the heap the compile used and freed is then reused by the loading, not left behind
//    (src/db/pglite-assets.ts);
//  - the compiled binary starts with the JIT's tier-up thresholds raised (scripts/build.ts): any command still
//    running after a few seconds (the console, the relay, a long import) gets the normal ones back. `serve` does
//    so as soon as it is ready.
import { writeSync } from "node:fs";
import { loadPgliteAssets } from "../src/db/pglite-assets.ts";
import { loadEnvFile } from "../src/operator/env-file.ts";

function takeEnvFile(argv: string[]): void {
  const command = argv.slice(2).find((a) => !a.startsWith("-"));
  if (command === "setup") return;
  const at = argv.findIndex((a) => a === "--env-file" || a.startsWith("--env-file="));
  if (at < 2) return;
  const inline = argv[at]?.startsWith("--env-file=");
  const path = inline ? argv[at]?.slice("--env-file=".length) : argv[at + 1];
  if (!path) {
    writeSync(2, "causeloop: error: --env-file needs a file\n");
    process.exit(2);
  }
  try {
    loadEnvFile(path);
  } catch (error) {
    writeSync(2, `causeloop: error: ${(error as Error).message}\n`);
    process.exit(2);
  }
  argv.splice(at, inline ? 1 : 2);
}

takeEnvFile(process.argv);

const EMBEDDED_COMMANDS = new Set(["serve", "demo"]);
if (!process.env.DATABASE_URL && !process.env.DATABASE_OWNER_URL && EMBEDDED_COMMANDS.has(process.argv[2] ?? ""))
  loadPgliteAssets().catch(() => {}); // the command that needs the assets reports any failure itself

// (Optional call: a Bun without Bun.unsafe.setJITPolicy builds binaries that start with the normal policy.)
setTimeout(() => Bun.unsafe.setJITPolicy?.(1), 3_000).unref();
