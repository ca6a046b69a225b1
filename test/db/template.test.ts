// The embedded database template (PGlite only: PostgreSQL has no embedded database): a new data dir starts
// from it, only migrations newer than it are applied, an existing database is never overwritten, and a bad
// template leaves nothing half-written behind.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrations } from "../../db/migrations/index.ts";
import { openPglite } from "../../src/db/engine.ts";
import { migrate, schemaIsCurrent } from "../../src/db/migrate.ts";
import { makeTemplate } from "../../src/db/pglite-template-make.ts";
import { migrateEmbedded } from "../../src/operator/database.ts";

let root: string;
let template: Blob;
const last = migrations[migrations.length - 1]?.name as string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "causeloop-template-test-"));
  // A template one migration behind this build, as an older binary's template would be.
  await makeTemplate(join(root, "source"), join(root, "template.tar.gz"), { sources: migrations.slice(0, -1) });
  template = Bun.file(join(root, "template.tar.gz"));
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

test("a new data dir starts from the template; only the newer migration is applied", async () => {
  const dir = join(root, "fresh");
  const engine = await openPglite(dir, { template });
  try {
    expect(existsSync(join(dir, "pgdata", "PG_VERSION"))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes("unpacking"))).toEqual([]);
    const before = await schemaIsCurrent(engine);
    expect(before.pending).toEqual([last]);
    const result = await migrate(engine);
    expect(result.applied.map((a) => a.name)).toEqual([last]);
    expect(result.alreadyApplied).toBe(migrations.length - 1);
    expect((await schemaIsCurrent(engine)).current).toBe(true);
    // Compacted: the template databases are not part of it.
    expect(await engine.query<{ datname: string }>("select datname from pg_database order by 1")).toEqual([
      { datname: "postgres" },
    ]);
    // The runtime role came with the template: a tenant transaction can switch to it.
    const role = await engine.transaction(async (tx) => {
      await tx.exec("SET LOCAL ROLE causeloop_app");
      return tx.query<{ r: string }>("select current_user as r");
    });
    expect(role[0]?.r).toBe("causeloop_app");
  } finally {
    await engine.close();
  }
}, 60_000);

test("an existing database is opened as it is, never replaced by the template", async () => {
  const dir = join(root, "existing");
  let engine = await openPglite(dir, { template });
  await migrateEmbedded(engine);
  await engine.exec("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
  await engine.close();
  engine = await openPglite(dir, { template });
  try {
    expect(await engine.query<{ v: string }>("select v from kept")).toEqual([{ v: "still here" }]);
  } finally {
    await engine.close();
  }
}, 60_000);

test("a template without a database is refused and leaves no data dir behind", async () => {
  const dir = join(root, "bad");
  const bogus = await new Bun.Archive({ README: "not a database" }, { compress: "gzip" }).blob();
  await expect(openPglite(dir, { template: bogus })).rejects.toThrow(/no PG_VERSION/);
  await Bun.sleep(50);
  expect(readdirSync(dir)).toEqual([]);
});
