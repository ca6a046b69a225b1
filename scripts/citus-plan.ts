// Writes docs/citus-plan.sql: the Citus distribution plan generated from a freshly migrated schema (an
// in-memory PGlite), so it never drifts from the migrations (test/db/citus-plan.test.ts checks the file).
//   bun scripts/citus-plan.ts [out]        (default docs/citus-plan.sql; - for standard output)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { citusPlan } from "../src/db/citus-plan.ts";
import { openPglite } from "../src/db/engine.ts";
import { migrateEmbedded } from "../src/operator/database.ts";

const out = process.argv[2] ?? "docs/citus-plan.sql";
const dir = mkdtempSync(join(tmpdir(), "causeloop-citus-"));
try {
  const engine = await openPglite(dir);
  await migrateEmbedded(engine, "citus-plan");
  const plan = await citusPlan(engine);
  await engine.close();
  if (out === "-") process.stdout.write(plan.sql);
  else {
    await Bun.write(out, plan.sql);
    console.log(
      `wrote ${out}: ${plan.reference.length} reference tables, ${plan.distributed.length} distributed, ${plan.blockers.length} blockers`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
