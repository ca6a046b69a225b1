// Backups with the compiled binary: taken while `serve` runs (through its control socket), listed, verified,
// restored into a new data dir that `serve` then serves with the same issues; a `causeloop backup` killed
// with SIGKILL leaves nothing listed and the next run succeeds.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPglite } from "../../src/db/engine.ts";
import { compiledBinary, onboardAcme, runBinary, startServe } from "../helpers/binary.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-e2e-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface IssueList {
  data: { id: string; title: string }[];
}

test("back up while serve runs, verify, restore into a new data dir and serve the same issues", async () => {
  const dataDir = join(root, "live");
  const onboarded = await onboardAcme(dataDir, ["--json"]);
  expect(onboarded.code).toBe(0);
  const token = (JSON.parse(onboarded.stdout) as { admin_token: string }).admin_token;
  const globex = await runBinary([
    "onboard",
    "globex",
    "--name",
    "Globex",
    "--admin-email",
    "ops@globex.com",
    "--data-dir",
    dataDir,
  ]);
  expect(globex.code).toBe(0);
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const server = await startServe(["--data-dir", dataDir]);
  let before: IssueList;
  let id: string;
  try {
    for (const title of ["disk full on db-1", "latency on checkout", "cert expires soon"]) {
      const created = await fetch(`${server.url}/v1/issues`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ title, severity: "high" }),
      });
      expect(created.status).toBe(201);
    }
    before = (await (await fetch(`${server.url}/v1/issues`, { headers: auth })).json()) as IssueList;
    expect(before.data.length).toBe(3);

    // Checkpoints anchored before the backup are carried into the restored data dir, later ones are not.
    expect((await runBinary(["audit", "checkpoint", "--data-dir", dataDir])).code).toBe(0);
    const backup = await runBinary(["backup", "--json", "--data-dir", dataDir]);
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { id: string; workspaces: number; manifest: string };
    id = result.id;
    expect(result.workspaces).toBe(2);
    // The server kept serving, and the backup ran inside it: its operator log has the record.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const log = await runBinary([
      "audit",
      "operator-log",
      "--action",
      "backup.created",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    expect(log.stdout).toContain(id);

    const listed = await runBinary(["backup", "list", "--json", "--data-dir", dataDir]);
    expect((JSON.parse(listed.stdout) as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([id]);
    const verified = await runBinary(["backup", "verify", id, "--data-dir", dataDir]);
    expect(verified.stdout).toContain(`OK: backup ${id} verified`);
    expect(verified.code).toBe(0);

    // A change after the backup, which the restore must not bring back.
    await fetch(`${server.url}/v1/issues`, { method: "POST", headers: auth, body: JSON.stringify({ title: "later" }) });
  } finally {
    await server.stop();
  }

  const restoredDir = join(root, "restored");
  const restored = await runBinary(["restore", id, "--data-dir", dataDir, "--to-data-dir", restoredDir, "--json"]);
  expect(restored.stderr).toBe("");
  expect(restored.code).toBe(0);
  const carried = JSON.parse(restored.stdout) as { anchors: { kept: number; dropped: number }; copied_keys: string[] };
  expect(carried.anchors.kept).toBeGreaterThan(0);
  expect(carried.anchors.dropped).toBeGreaterThan(0);
  expect(carried.copied_keys).toContain("master.key");
  const refused = await runBinary(["restore", id, "--data-dir", dataDir, "--to-data-dir", restoredDir]);
  expect(refused.code).toBe(3);
  expect(refused.stderr.trim().split("\n")).toEqual([
    `causeloop: error: ${restoredDir} is not empty: restore into a new directory, or add --force to move it aside`,
  ]);
  const audit = await runBinary(["audit", "verify", "--data-dir", restoredDir]);
  expect(audit.stdout).toContain(`anchors: ${carried.anchors.kept} checked`);
  expect(audit.code).toBe(0);
  const second = await startServe(["--data-dir", restoredDir]);
  try {
    const after = (await (await fetch(`${second.url}/v1/issues`, { headers: auth })).json()) as IssueList;
    expect(after.data.map((i) => [i.id, i.title]).sort()).toEqual(before.data.map((i) => [i.id, i.title]).sort());
  } finally {
    await second.stop();
  }
}, 240_000);

test("kill -9 during a backup leaves no listed backup; the next run cleans up and succeeds", async () => {
  const dataDir = join(root, "big");
  expect((await onboardAcme(dataDir)).code).toBe(0);
  // A database big enough (about 80 MB compressed) that the backup is still writing when it is killed.
  const engine = await openPglite(dataDir);
  try {
    const [ws] = await engine.query<{ id: string }>("select id from workspaces limit 1");
    await engine.query(
      `insert into issues (workspace_id, id, title, body, created_by)
       select $1, 'iss_' || lpad(to_hex(g), 26, '0'), 'ballast ' || g,
              (select string_agg(md5(random()::text || g || s), '') from generate_series(1, 64) s), 'usr_ballast'
         from generate_series(1, 30000) g`,
      [ws?.id],
    );
  } finally {
    await engine.close();
  }
  const backups = join(dataDir, "backups");
  const proc = Bun.spawn([await compiledBinary(), "backup", "--data-dir", dataDir], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", CAUSELOOP_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "ignore",
  });
  const partial = () => existsSync(backups) && readdirSync(backups).some((n) => n.endsWith(".partial"));
  while (!partial() && proc.exitCode === null) await Bun.sleep(5);
  proc.kill("SIGKILL");
  expect(await proc.exited).not.toBe(0);
  expect(readdirSync(backups).some((n) => n.endsWith(".partial"))).toBe(true);
  const listed = await runBinary(["backup", "list", "--json", "--data-dir", dataDir]);
  expect((JSON.parse(listed.stdout) as { backups: unknown[] }).backups).toEqual([]);

  const next = await runBinary(["backup", "--json", "--data-dir", dataDir]);
  expect(next.code).toBe(0);
  const result = JSON.parse(next.stdout) as { id: string; removed_leftovers: string[] };
  expect(result.removed_leftovers.length).toBeGreaterThan(0);
  expect(readdirSync(backups).sort()).toEqual([`${result.id}.clbk`, `${result.id}.manifest.json`]);
  const relisted = await runBinary(["backup", "list", "--json", "--data-dir", dataDir]);
  expect((JSON.parse(relisted.stdout) as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([result.id]);
}, 240_000);
