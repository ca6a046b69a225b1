// The evidence pack from the compiled binary: written on an embedded installation, verified by the binary,
// carrying the SBOM embedded at build; a tampered pack is INVALID with the file named.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, onboardAcme } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "causeloop-evidence-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("causeloop evidence writes a signed pack that evidence verify accepts, and refuses a changed one", async () => {
  const dataDir = join(dir, "data");
  const onboarded = await onboardAcme(dataDir);
  expect({ code: onboarded.code, stderr: onboarded.stderr }).toEqual({ code: 0, stderr: "" });
  const pack = join(dir, "pack.tar.gz");
  const written = await runBinary(["evidence", "--from", "2026-01-01", "--out", pack, "--data-dir", dataDir]);
  expect(written.stderr).toBe("");
  expect(written.code).toBe(0);
  expect(written.stdout).toMatch(/^wrote .*pack\.tar\.gz: \d+ files, \d+ bytes, signed/);

  const verified = await runBinary(["evidence", "verify", pack]);
  expect(verified.code).toBe(0);
  expect(verified.stdout).toMatch(/^OK: \d+ files match the manifest/);
  const files = await new Bun.Archive(readFileSync(pack)).files();
  expect(files.has("index.html")).toBe(true);
  const sbom = JSON.parse(await (files.get("evidence/sbom.cdx.json") as File).text()) as { bomFormat: string };
  expect(sbom.bomFormat).toBe("CycloneDX");

  const changed = Object.fromEntries(
    await Promise.all([...files].map(async ([p, f]) => [p, await f.bytes()] as const)),
  );
  changed["index.html"] = new TextEncoder().encode(
    (await (files.get("index.html") as File).text()).replace("SOC 2", "SOC 3"),
  );
  writeFileSync(join(dir, "tampered.tar.gz"), await new Bun.Archive(changed, { compress: "gzip" }).bytes());
  const tampered = await runBinary(["evidence", "verify", join(dir, "tampered.tar.gz")]);
  expect(tampered.code).toBe(1);
  expect(tampered.stdout).toContain("index.html does not match its SHA-256");

  const bad = await runBinary(["evidence", "--from", "yesterday", "--out", pack, "--data-dir", dataDir]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--from must be a date");
}, 120_000);
