// install.sh --binary: a release binary is checked against the SHA256SUMS beside it and installed as it is,
// without bun, packages or a build; a binary that does not match is refused and nothing is installed.
// install.sh --systemd, into a staging root (--root) so the test machine's own users and /etc stay untouched.
import { afterAll, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary } from "../helpers/binary.ts";

const repo = join(import.meta.dir, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "causeloop-install-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function install(args: string[]) {
  // No bun on PATH: installing a release binary must not need it.
  const run = Bun.spawnSync(["bash", join(repo, "install.sh"), ...args], {
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

const canAddUsers =
  process.getuid?.() === 0 && Bun.which("useradd", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }) !== null;

test.skipIf(!canAddUsers)(
  "install.sh --systemd: a nologin service user, the state dir 0700 as that user, the env file 0600, the unit",
  async () => {
    const root = join(dir, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    for (const file of ["passwd", "group", "shadow", "gshadow"]) copyFileSync(`/etc/${file}`, join(root, "etc", file));
    const hostPasswd = readFileSync("/etc/passwd", "utf8");
    const binary = await compiledBinary();
    const run = () =>
      Bun.spawnSync(["bash", join(repo, "install.sh"), "--systemd", "--root", root, "--binary", binary], {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir },
        stdout: "pipe",
        stderr: "pipe",
      });
    const first = run();
    expect(first.stderr.toString()).toBe("");
    expect(first.exitCode).toBe(0);

    const user = readFileSync(join(root, "etc", "passwd"), "utf8")
      .split("\n")
      .find((line) => line.startsWith("causeloop:"))
      ?.split(":");
    expect(user?.[5]).toBe("/var/lib/causeloop");
    expect(user?.[6]).toBe("/usr/sbin/nologin");
    expect(readFileSync("/etc/passwd", "utf8")).toBe(hostPasswd);
    const state = statSync(join(root, "var", "lib", "causeloop"));
    expect(state.mode & 0o777).toBe(0o700);
    expect(String(state.uid)).toBe(user?.[2] as string);
    const envFile = join(root, "etc", "causeloop", "causeloop.env");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile, "utf8")).toContain("CAUSELOOP_DATA_DIR=/var/lib/causeloop");
    expect(readFileSync(join(root, "etc", "systemd", "system", "causeloop.service"), "utf8")).toBe(
      readFileSync(join(repo, "scripts", "deploy", "causeloop.service"), "utf8"),
    );
    expect(Bun.spawnSync([join(root, "usr", "local", "bin", "causeloop"), "--version"]).exitCode).toBe(0);

    // Again: the operator's edited env file and the user are kept.
    writeFileSync(envFile, "CAUSELOOP_PORT=9999\n", { mode: 0o600 });
    const second = run();
    expect(second.exitCode).toBe(0);
    expect(readFileSync(envFile, "utf8")).toBe("CAUSELOOP_PORT=9999\n");
    expect(readFileSync(join(root, "etc", "passwd"), "utf8").match(/^causeloop:/gm)).toHaveLength(1);
  },
  120_000,
);
