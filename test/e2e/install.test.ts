// install.sh --binary: a release binary is checked against the SHA256SUMS beside it and installed as it is,
// without bun, packages or a build; a binary that does not match is refused and nothing is installed.
import { afterAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary } from "../helpers/binary.ts";

const root = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "causeloop-install-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function install(args: string[]) {
  // No bun on PATH: installing a release binary must not need it.
  const run = Bun.spawnSync(["bash", join(root, "install.sh"), ...args], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: dir },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

test("install.sh --binary installs a release binary that matches its SHA256SUMS, and refuses one that does not", async () => {
  const release = join(dir, "release");
  const name = "causeloop-0.0.0-linux-x64";
  Bun.spawnSync(["mkdir", "-p", release]);
  copyFileSync(await compiledBinary(), join(release, name));
  const sum = new Bun.CryptoHasher("sha256").update(await Bun.file(join(release, name)).bytes()).digest("hex");
  writeFileSync(join(release, "SHA256SUMS"), `${sum}  ${name}\n`);

  const ok = install(["--binary", `release/${name}`, "--prefix", join(dir, "prefix")]);
  expect(ok.stderr).toBe("");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain("matches SHA256SUMS");
  const version = Bun.spawnSync([join(dir, "prefix", "bin", "causeloop"), "--version"]).stdout.toString();
  expect(version).toMatch(/^causeloop \d+\.\d+\.\d+ \(commit [0-9a-f]{12}/);
  expect(existsSync(join(dir, "node_modules"))).toBe(false);

  writeFileSync(join(release, "SHA256SUMS"), `${"0".repeat(64)}  ${name}\n`);
  const tampered = install(["--binary", join(release, name), "--prefix", join(dir, "other")]);
  expect(tampered.code).toBe(2);
  expect(tampered.stderr).toContain("does not match");
  expect(existsSync(join(dir, "other"))).toBe(false);
}, 120_000);
