// The embedded database's buffer pool (PGlite only): PGlite zeroes it at start, so its size is resident memory
// from the first second. 16MB unless CAUSELOOP_PGLITE_SHARED_BUFFERS (or the engine option) says otherwise,
// passed on PostgreSQL's command line so the data dir's postgresql.conf is left as it is.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, pgliteSharedBuffers } from "../../src/config.ts";
import { openPglite } from "../../src/db/engine.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-pglite-memory-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("the buffer pool is 16MB by default and follows the setting on the next start", async () => {
  const dir = join(root, "db");
  // No option: the engine reads CAUSELOOP_PGLITE_SHARED_BUFFERS itself (unset here).
  let engine = await openPglite(dir, { template: null });
  const conf = readFileSync(join(dir, "pgdata", "postgresql.conf"), "utf8");
  try {
    expect(await engine.query("show shared_buffers")).toEqual([{ shared_buffers: "16MB" }]);
  } finally {
    await engine.close();
  }
  const sharedBuffers = pgliteSharedBuffers({ CAUSELOOP_PGLITE_SHARED_BUFFERS: "48MB" });
  engine = await openPglite(dir, { sharedBuffers });
  try {
    expect(await engine.query("show shared_buffers")).toEqual([{ shared_buffers: "48MB" }]);
  } finally {
    await engine.close();
  }
  expect(readFileSync(join(dir, "pgdata", "postgresql.conf"), "utf8")).toBe(conf);
}, 120_000);

test("the setting takes kB, MB or GB within what PGlite's memory can hold", () => {
  expect(pgliteSharedBuffers({})).toBe("16384kB");
  expect(pgliteSharedBuffers({ CAUSELOOP_PGLITE_SHARED_BUFFERS: "128MB" })).toBe("131072kB");
  expect(pgliteSharedBuffers({ CAUSELOOP_PGLITE_SHARED_BUFFERS: "1gb" })).toBe("1048576kB");
  expect(loadConfig({ CAUSELOOP_PGLITE_SHARED_BUFFERS: "16MB" }).pgliteSharedBuffers).toBe("16384kB");
  for (const bad of ["32", "64kB", "2GB", "lots", "-1MB"])
    expect(() => pgliteSharedBuffers({ CAUSELOOP_PGLITE_SHARED_BUFFERS: bad })).toThrow(ConfigError);
  expect(() => loadConfig({ CAUSELOOP_PGLITE_SHARED_BUFFERS: "2GB" })).toThrow(/CAUSELOOP_PGLITE_SHARED_BUFFERS/);
});
