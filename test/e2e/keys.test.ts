// A lost audit signing key never passes silently: after `audit checkpoint` signed with the data dir's key,
// deleting the key file makes `serve` exit 2 with one line naming the file (a fresh key would make every
// earlier checkpoint look tampered). Restoring the file brings it back.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, startServe } from "../helpers/binary.ts";

const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-keys-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test("serve refuses to start when the audit signing key file behind existing checkpoints is gone", async () => {
  // A never-used data dir is brought up to date first, like every command that reads tenant data.
  const checkpoint = await runBinary(["audit", "checkpoint", "--data-dir", dataDir, "--json"]);
  expect(checkpoint.code).toBe(0);
  const keyFile = join(dataDir, "audit-signing.key");
  const key = readFileSync(keyFile, "utf8");
  unlinkSync(keyFile);
  const refused = await runBinary(["serve", "--port", "0", "--data-dir", dataDir]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(keyFile);
  expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  // doctor sees it before serve does: red, naming the file.
  const doctor = await runBinary(["doctor", "--data-dir", dataDir, "--json"]);
  expect(doctor.code).not.toBe(0);
  const signing = (
    JSON.parse(doctor.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }
  ).checks.find((c) => c.name === "audit signing key");
  expect(signing).toMatchObject({ ok: false });
  expect(signing?.detail).toContain(keyFile);
  writeFileSync(keyFile, key, { mode: 0o600 });
  const server = await startServe(["--data-dir", dataDir]);
  expect(await server.stop()).toBe(0);
});
