// The env file setup writes and `--env-file` reads: an operator's own lines survive a rewrite, the file is
// never readable by others, and a malformed line is a clear error naming the line.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvFile, parseEnvFile, writeEnvFile } from "../../src/operator/env-file.ts";

const dir = mkdtempSync(join(tmpdir(), "causeloop-envfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a rewrite replaces setup's keys in place, keeps the operator's lines and comments, mode 0600", () => {
  const path = join(dir, "causeloop.env");
  writeFileSync(path, "# mine\nCAUSELOOP_PORT=9090\nDATABASE_URL=postgres://old@db/x\n", { mode: 0o644 });
  writeEnvFile(path, { DATABASE_URL: "postgres://causeloop_app:pw@db/x", CAUSELOOP_DATA_DIR: "/var/lib/c l" }, "setup");
  const text = readFileSync(path, "utf8");
  expect(text).toBe(
    '# mine\nCAUSELOOP_PORT=9090\nDATABASE_URL=postgres://causeloop_app:pw@db/x\n\n# setup\nCAUSELOOP_DATA_DIR="/var/lib/c l"\n',
  );
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(parseEnvFile(text)).toEqual({
    CAUSELOOP_PORT: "9090",
    DATABASE_URL: "postgres://causeloop_app:pw@db/x",
    CAUSELOOP_DATA_DIR: "/var/lib/c l",
  });
});

test("--env-file sets only what the environment does not already set", () => {
  const path = join(dir, "load.env");
  writeFileSync(path, "A=from-file\nB=from-file\n");
  const env: Record<string, string | undefined> = { A: "explicit" };
  expect(loadEnvFile(path, env)).toEqual(["B"]);
  expect(env).toEqual({ A: "explicit", B: "from-file" });
});

test("a line that is not KEY=value is refused with its number; a missing file is named", () => {
  expect(() => parseEnvFile("A=1\nnot a setting\n", "x.env")).toThrow("x.env line 2 is not KEY=value");
  expect(() => loadEnvFile(join(dir, "absent.env"), {})).toThrow(/absent\.env does not exist/);
});
