// Scheduled backups with the compiled binary: a fresh installation's serve takes no backup at start (the
// catch-up rule), the backup and drill jobs run inside the running serve through `jobs run`, doctor and
// /readyz report them, and `backup prune` applies retention by hand.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onboardAcme, runBinary, startServe } from "../helpers/binary.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-e2e-bsched-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

test("serve runs the backup and drill jobs on demand; doctor, /readyz and backup prune report them", async () => {
  const dataDir = join(root, "live");
  expect((await onboardAcme(dataDir, ["--json"])).code).toBe(0);
  const server = await startServe(["--data-dir", dataDir]);
  try {
    // A fresh installation: no backup taken at start, and no alarm yet (the grace period).
    const jobs = JSON.parse((await runBinary(["jobs", "list", "--json", "--data-dir", dataDir])).stdout) as {
      jobs: { name: string }[];
    };
    expect(jobs.jobs.map((j) => j.name)).toEqual(
      expect.arrayContaining(["backup.create", "backup.drill", "backup.check"]),
    );
    const fresh = (await (await fetch(`${server.url}/readyz`)).json()) as { backups: Record<string, unknown> };
    expect(fresh.backups).toEqual({ stale: false, last_backup_at: null, last_drill_at: null, last_drill_ok: null });
    expect((await runBinary(["backup", "list", "--json", "--data-dir", dataDir])).stdout).toContain('"backups": []');

    for (const job of ["backup.create", "backup.drill"]) {
      const run = await runBinary(["jobs", "run", job, "--json", "--data-dir", dataDir]);
      expect(run.stderr).toBe("");
      expect(JSON.parse(run.stdout)).toMatchObject({ outcome: "succeeded" });
    }
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as {
      backups: { stale: boolean; last_backup_at: string; last_drill_ok: boolean };
    };
    expect(body.backups).toMatchObject({ stale: false, last_drill_ok: true });
    expect(Date.parse(body.backups.last_backup_at)).toBeGreaterThan(Date.now() - 120_000);

    const doctor = await runBinary(["doctor", "--json", "--data-dir", dataDir]);
    const backups = (JSON.parse(doctor.stdout) as { checks: Check[] }).checks.find((c) => c.name === "backups");
    expect(backups).toMatchObject({ ok: true, detail: expect.stringContaining("backup 0 h old, drill 0 days old") });

    const prune = await runBinary(["backup", "prune", "--dry-run", "--json", "--data-dir", dataDir]);
    expect(prune.code).toBe(0);
    expect(JSON.parse(prune.stdout)).toMatchObject({
      dry_run: true,
      pruned: [],
      kept: [{ reason: "among the 7 newest" }],
    });
  } finally {
    expect(await server.stop()).toBe(0);
  }
});
