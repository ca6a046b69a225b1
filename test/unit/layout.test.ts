// Structural rules of the house plan, checked on the source tree.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { migrations } from "../../db/migrations/index.ts";

const root = join(import.meta.dir, "..", "..");

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

test("route code never imports the pool, the engine, owner-level operations or the operator layer", () => {
  const forbidden =
    /from\s+["'][^"']*(db\/engine|db\/system|db\/migrate|operator\/|postgres["']|@electric-sql\/pglite)/;
  const routeFiles = files("src").filter((f) => /routes\.ts$/.test(f) || f.includes(`${join("src", "http")}`));
  expect(routeFiles.length).toBeGreaterThan(0);
  const offenders = routeFiles.filter((f) =>
    readFileSync(f, "utf8")
      .split("\n")
      .some((line) => /^\s*import\b/.test(line) && forbidden.test(line)),
  );
  expect(offenders).toEqual([]);
});

test("every migration file is embedded, in order, with a unique number", () => {
  const onDisk = readdirSync(join(root, "db", "migrations"))
    .filter((f) => f.endsWith(".sql"))
    .map((f) => f.replace(/\.sql$/, ""))
    .sort();
  expect(migrations.map((m) => m.name)).toEqual(onDisk);
  const numbers = onDisk.map((n) => n.slice(0, 4));
  expect(new Set(numbers).size).toBe(numbers.length);
  for (const name of onDisk) expect(name).toMatch(/^\d{4}_[a-z0-9_]+$/);
});

test("no session-level SET anywhere in the sources", () => {
  const offenders = files("src").filter((f) =>
    /["'`]\s*set\s+(?!local\b)(role|app\.|session)/i.test(readFileSync(f, "utf8")),
  );
  expect(offenders).toEqual([]);
});

test("faces hold no SQL: no statement in a routes file, the CLI, the console or the server's wiring", () => {
  const statement =
    /["'`]\s*(select\s[\s\S]*?\sfrom\s|insert\s+into\s|update\s+\w+\s+set\s|delete\s+from\s|with\s+\w+\s+as\s*\()/i;
  const faces = [
    ...files("src").filter((f) => /routes\.ts$/.test(f) || f.endsWith(join("src", "server.ts"))),
    ...files("cli"),
    ...files("tui"),
  ];
  expect(faces.length).toBeGreaterThan(10);
  const offenders = faces.filter((f) => statement.test(readFileSync(f, "utf8")));
  expect(offenders).toEqual([]);
});
