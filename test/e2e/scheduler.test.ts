// Two `serve` processes of the compiled binary on one PostgreSQL: each scheduled slot runs exactly once
// (both start at once and both try to catch up the same missed retention slot).
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServe } from "../helpers/binary.ts";
import { createTestDb } from "../helpers/db.ts";

const keysDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-sched-"));
afterAll(() => rmSync(keysDir, { recursive: true, force: true }));

test("two serve instances on one PostgreSQL run each scheduled slot once", async () => {
  const db = await createTestDb("postgres");
  try {
    const env = {
      DATABASE_URL: db.databaseUrl as string,
      CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
      CAUSELOOP_DATA_DIR: keysDir,
    };
    const servers = await Promise.all([startServe([], env), startServe([], env)]);
    try {
      let runs: { job: string; slot: Date; n: number; instances: string[] }[] = [];
      for (let i = 0; i < 50; i++) {
        runs = await db.owner.query(
          "select job, slot, count(*)::int as n, array_agg(instance) as instances from scheduler_runs where trigger = 'catch_up' group by job, slot",
        );
        if (runs.some((r) => r.job === "retention")) break;
        await Bun.sleep(200);
      }
      const retention = runs.filter((r) => r.job === "retention");
      expect(retention).toHaveLength(1);
      expect(retention[0]?.n).toBe(1);
      expect(runs.every((r) => r.n === 1)).toBe(true);
    } finally {
      for (const server of servers) expect(await server.stop()).toBe(0);
    }
  } finally {
    await db.dispose();
  }
});
