// A CycloneDX 1.5 SBOM of what the binary carries: the runtime dependencies of package.json and everything
// they pull in, resolved through bun.lock (exact versions, npm package URLs, the lockfile's SHA-512 hashes,
// licences from the installed package.json files). Development dependencies are not in the binary and not in
// the SBOM. scripts/build.ts writes it to dist/sbom.cdx.json and beside the release binaries.
//   bun scripts/sbom.ts [out]        (default dist/sbom.cdx.json; - for standard output)
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

type LockEntry = [
  string,
  string,
  {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    optionalPeers?: string[];
    os?: string | string[];
  }?,
  string?,
];

interface Lockfile {
  workspaces: Record<
    string,
    { name?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }
  >;
  packages: Record<string, LockEntry>;
}

export interface SbomComponent {
  type: "library";
  "bom-ref": string;
  group?: string;
  name: string;
  version: string;
  purl: string;
  hashes?: { alg: "SHA-512"; content: string }[];
  licenses?: { license: { id?: string; name?: string } }[];
}

/** bun.lock is JSON with trailing commas. */
export function readLockfile(path: string): Lockfile {
  return JSON.parse(readFileSync(path, "utf8").replace(/,(\s*[}\]])/g, "$1")) as Lockfile;
}

/** "a/@s/b/c" -> ["a", "@s/b", "c"]: a lockfile key is the path of nested package names. */
function segments(key: string): string[] {
  const parts = key.split("/");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    out.push(part.startsWith("@") ? `${part}/${parts[++i]}` : part);
  }
  return out;
}

/** Where `dep` required from the package at `from` resolves: the nearest nested copy, else the hoisted one. */
function resolve(lock: Lockfile, from: string | undefined, dep: string): string | undefined {
  const path = from ? segments(from) : [];
  for (let depth = path.length; depth > 0; depth--) {
    const key = `${path.slice(0, depth).join("/")}/${dep}`;
    if (lock.packages[key]) return key;
  }
  return lock.packages[dep] ? dep : undefined;
}

export const purl = (name: string, version: string) =>
  `pkg:npm/${name.startsWith("@") ? `%40${name.slice(1)}` : name}@${version}`;

function license(root: string, name: string): SbomComponent["licenses"] {
  const manifest = join(root, "node_modules", name, "package.json");
  if (!existsSync(manifest)) return undefined;
  const value = (JSON.parse(readFileSync(manifest, "utf8")) as { license?: unknown }).license;
  if (typeof value !== "string" || value.length === 0) return undefined;
  return [{ license: /^[A-Za-z0-9.+-]+$/.test(value) ? { id: value } : { name: value } }];
}

/** The SBOM of the runtime dependency closure, from package.json's dependencies through bun.lock. */
export function buildSbom(root: string, version: string, timestamp = new Date().toISOString()) {
  const lock = readLockfile(join(root, "bun.lock"));
  const workspace = lock.workspaces[""] as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const direct = Object.keys(workspace?.dependencies ?? {});
  const devOnly = new Set(Object.keys(workspace?.devDependencies ?? {}).filter((d) => !direct.includes(d)));
  const seen = new Map<string, { name: string; version: string; deps: string[]; integrity?: string }>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    const [spec, , meta, integrity] = lock.packages[key] as LockEntry;
    const at = spec.lastIndexOf("@");
    const node = { name: spec.slice(0, at), version: spec.slice(at + 1), deps: [] as string[], integrity };
    seen.set(key, node);
    // A required peer the lockfile installed is bundled like a dependency (elysia's file-type), unless only a
    // development dependency of ours provides it (typescript, for the OpenAPI plugin's type generation).
    // Optional platform packages count only when they are for Linux, what the release targets.
    const optionalPeers = new Set(meta?.optionalPeers ?? []);
    const wanted = [
      ...Object.keys(meta?.dependencies ?? {}),
      ...Object.keys(meta?.optionalDependencies ?? {}),
      ...Object.keys(meta?.peerDependencies ?? {}).filter((p) => !optionalPeers.has(p) && !devOnly.has(p)),
    ];
    for (const dep of wanted) {
      const target = resolve(lock, key, dep);
      if (!target) continue; // an optional dependency that is not installed
      const os = (lock.packages[target] as LockEntry)[2]?.os;
      if (os !== undefined && !(Array.isArray(os) ? os : [os]).includes("linux")) continue;
      node.deps.push(target);
      visit(target);
    }
  };
  for (const dep of direct) {
    const key = resolve(lock, undefined, dep);
    if (!key) throw new Error(`${dep} is in package.json but not in bun.lock: run bun install`);
    visit(key);
  }
  const ref = (key: string) => {
    const node = seen.get(key) as { name: string; version: string };
    return purl(node.name, node.version);
  };
  const components = new Map<string, SbomComponent>();
  for (const [key, node] of seen) {
    const bomRef = ref(key);
    if (components.has(bomRef)) continue;
    const scoped = node.name.startsWith("@");
    const hash = node.integrity?.startsWith("sha512-")
      ? Buffer.from(node.integrity.slice(7), "base64").toString("hex")
      : undefined;
    components.set(bomRef, {
      type: "library",
      "bom-ref": bomRef,
      ...(scoped ? { group: node.name.slice(0, node.name.indexOf("/")) } : {}),
      name: scoped ? node.name.slice(node.name.indexOf("/") + 1) : node.name,
      version: node.version,
      purl: bomRef,
      ...(hash ? { hashes: [{ alg: "SHA-512" as const, content: hash }] } : {}),
      ...(license(root, node.name) ? { licenses: license(root, node.name) } : {}),
    });
  }
  const self = `pkg:npm/causeloop@${version}`;
  const dependsOn = new Map<string, Set<string>>();
  for (const [key, node] of seen) {
    const set = dependsOn.get(ref(key)) ?? new Set<string>();
    for (const dep of node.deps) set.add(ref(dep));
    dependsOn.set(ref(key), set);
  }
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${crypto.randomUUID()}`,
    version: 1,
    metadata: {
      timestamp,
      tools: { components: [{ type: "application", name: "causeloop scripts/sbom.ts" }] },
      component: { type: "application", "bom-ref": self, name: "causeloop", version, purl: self },
    },
    components: [...components.values()].sort((a, b) => a.purl.localeCompare(b.purl)),
    dependencies: [
      { ref: self, dependsOn: direct.map((d) => ref(resolve(lock, undefined, d) as string)).sort() },
      ...[...dependsOn]
        .map(([r, deps]) => ({ ref: r, dependsOn: [...deps].sort() }))
        .sort((a, b) => a.ref.localeCompare(b.ref)),
    ],
  };
}

if (import.meta.main) {
  const root = join(import.meta.dir, "..");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const out = process.argv[2] ?? "dist/sbom.cdx.json";
  const sbom = buildSbom(root, pkg.version);
  const text = `${JSON.stringify(sbom, null, 2)}\n`;
  if (out === "-") process.stdout.write(text);
  else {
    await Bun.write(out, text);
    console.log(`wrote ${out}: ${sbom.components.length} components`);
  }
}
