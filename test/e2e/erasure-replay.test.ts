// Erasures survive restores, with the compiled binary: back up; erase a person and purge a tenant; restore
// the earlier backup: `restore` prints what it re-applied and the restored data dir holds neither the person
// nor the tenant before `serve` ever starts on it. A data dir whose restore was not followed by the replay
// is refused by `serve` until `restore --replay-only` has run.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendOperatorLog } from "../../src/audit/operator-log.ts";
import { openPglite } from "../../src/db/engine.ts";
import { onboardAcme, onboardTenant, runBinary, startServe } from "../helpers/binary.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-e2e-replay-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SUBJECT = "jane.doe@example.com";

test("a restored backup does not bring back a person erased or a tenant purged after it was taken", async () => {
  const dataDir = join(root, "live");
  const onboarded = await onboardAcme(dataDir, ["--json"]);
  expect(onboarded.code).toBe(0);
  const token = (JSON.parse(onboarded.stdout) as { admin_token: string }).admin_token;
  const globex = await onboardTenant("globex", dataDir);
  expect(globex.code).toBe(0);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  let backupId: string;
  const server = await startServe(["--data-dir", dataDir]);
  try {
    for (const reporter of [SUBJECT, "someone.else@example.com"]) {
      const created = await fetch(`${server.url}/v1/issues`, {
        method: "POST",
        headers,
        body: JSON.stringify({ title: "checkout fails", severity: "high", reporter_email: reporter }),
      });
      expect(created.status).toBe(201);
    }
    const backup = await runBinary(["backup", "--json", "--data-dir", dataDir]);
    expect(backup.code).toBe(0);
    backupId = (JSON.parse(backup.stdout) as { id: string }).id;

    const submitted = await fetch(`${server.url}/v1/governance/rtbf/requests`, {
      method: "POST",
      headers,
      body: JSON.stringify({ email: SUBJECT }),
    });
    expect(submitted.status).toBe(201);
    const { id: requestId } = (await submitted.json()) as { id: string };
    const approved = await runBinary(["rtbf", "approve", requestId, "--yes", "--data-dir", dataDir]);
    expect(approved.stdout).toContain("COMPLETED");
    const purged = await runBinary(["offboard", "globex", "--mode", "purge", "--yes", "--data-dir", dataDir]);
    expect(purged.code).toBe(0);
  } finally {
    await server.stop();
  }

  const target = join(root, "restored");
  const restored = await runBinary(["restore", backupId, "--to-data-dir", target, "--data-dir", dataDir]);
  expect(restored.stderr).toBe("");
  expect(restored.code).toBe(0);
  expect(restored.stdout).toContain("1 erasure(s), 1 tenant purge(s)");
  expect(restored.stdout).toContain("purged again: globex");
  expect(restored.stdout).not.toContain(SUBJECT);

  // Before any server runs on it: the person and the tenant are gone from the restored data dir.
  const db = await openPglite(target);
  try {
    const reporters = (await db.query<{ r: string }>("select reporter_email as r from issues")).map((x) => x.r);
    expect(reporters).toContain("someone.else@example.com");
    expect(reporters).not.toContain(SUBJECT);
    expect(await db.query("select 1 from organizations where slug = 'globex'")).toEqual([]);
    // Marked as restored without its replay (a crash between the two): serve must refuse it.
    await db.transaction((tx) =>
      appendOperatorLog(tx, {
        action: "backup.restored",
        actor: "operator:test",
        targetType: "backup",
        targetId: backupId,
        after: { since: new Date().toISOString(), replay: "pending" },
      }),
    );
  } finally {
    await db.close();
  }
  await expect(startServe(["--data-dir", target])).rejects.toThrow("erasure ledger was not replayed");
  const replayed = await runBinary(["restore", "--replay-only", "--data-dir", target]);
  expect(replayed.stderr).toBe("");
  expect(replayed.code).toBe(0);
  const again = await startServe(["--data-dir", target]);
  try {
    const listed = await fetch(`${again.url}/v1/issues`, { headers });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(await listed.json())).not.toContain(SUBJECT);
  } finally {
    await again.stop();
  }
  const nothing = await runBinary(["restore", "--replay-only", "--data-dir", target]);
  expect(nothing.code).not.toBe(0);
  expect(nothing.stderr).toContain("nothing to replay");
});
