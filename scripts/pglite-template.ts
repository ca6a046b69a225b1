// Makes the embedded database template (src/db/pglite-template.ts): a PGlite data directory with every
// migration applied and the runtime role set up, compacted, cleanly shut down and packed. Run by
// scripts/build.ts, which embeds it in the binary.
//   bun scripts/pglite-template.ts dist/pglite-template.tar.gz
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTemplate } from "../src/db/pglite-template-make.ts";

const outfile = process.argv[2] ?? "dist/pglite-template.tar.gz";
const dir = mkdtempSync(join(tmpdir(), "causeloop-template-"));
try {
  const size = await makeTemplate(dir, outfile, { actor: "build (embedded template)" });
  console.log(`made ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
