// Pieces the MongoDB and DynamoDB policies share: allow/deny name lists with "prefix*" patterns, denied
// dotted paths, the shape checks of a policy file, and the literal-free fingerprint of a request.
import { createHash } from "node:crypto";

export interface NameLists {
  allow?: string[];
  deny?: string[];
}

/** "orders" matches only orders; "audit_*" matches every name that starts with "audit_". */
export function matchesPattern(name: string, pattern: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** Deny wins over allow; with no allow list nothing is allowed (a policy must name what it opens). */
export function nameAllowed(name: string, lists: NameLists | undefined): boolean {
  if (lists?.deny?.some((p) => matchesPattern(name, p))) return false;
  return lists?.allow?.some((p) => matchesPattern(name, p)) ?? false;
}

/** The allowed names that are spelled out in full, for start-up checks that need a concrete name. */
export function concreteNames(lists: NameLists | undefined): string[] {
  return (lists?.allow ?? []).filter((p) => !p.includes("*") && !lists?.deny?.some((d) => matchesPattern(p, d)));
}

/**
 * A path touches a denied path when one is a prefix of the other: reading "user" returns "user.ssn",
 * and reading "ssn.last4" reads part of "ssn". Array indices ("items.0.x") are ignored when comparing.
 */
export function touchesDenied(path: string, denied: readonly string[]): string | undefined {
  const segs = path.split(".").filter((s) => !/^\d+$/.test(s) && s !== "$" && s !== "$[]");
  for (const d of denied) {
    const dsegs = d.split(".");
    const n = Math.min(segs.length, dsegs.length);
    if (n > 0 && segs.slice(0, n).every((s, i) => s === dsegs[i])) return d;
  }
  return undefined;
}

/** Removes denied paths from a plain value at any depth (arrays are walked through), returning a copy. */
export function stripDenied(value: unknown, denied: readonly string[]): unknown {
  if (denied.length === 0) return value;
  const paths = denied.map((d) => d.split("."));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return v;
    const kept: [string, unknown][] = [];
    for (const [k, inner] of Object.entries(v)) {
      if (paths.some((p) => p.length === 1 && p[0] === k)) continue;
      const rest = paths.filter((p) => p.length > 1 && p[0] === k).map((p) => p.slice(1).join("."));
      kept.push([k, rest.length > 0 ? stripDenied(walk(inner), rest) : walk(inner)]);
    }
    return Object.fromEntries(kept);
  };
  return walk(value);
}

export function fingerprintOf(normalized: string): string {
  return createHash("sha256").update(normalized).digest("hex");
}

/** JSON with object keys sorted, so that two spellings of one request normalize to the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export class PolicyShapeError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "PolicyShapeError";
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Rejects keys the policy format does not know, so a typo ("alow") is an error and not a silent no-op. */
export function onlyKeys(raw: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(raw)) {
    if (!keys.includes(k))
      throw new PolicyShapeError(`${path}.${k}`, `unknown setting (expected one of ${keys.join(", ")})`);
  }
}

export function stringList(raw: unknown, path: string, valid: (s: string) => boolean): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw new PolicyShapeError(path, "must be a list of names");
  return raw.map((s, i) => {
    if (typeof s !== "string" || s.length === 0 || !valid(s))
      throw new PolicyShapeError(`${path}[${i}]`, `invalid name ${JSON.stringify(s)}`);
    return s;
  });
}

export function nameLists(raw: unknown, path: string, valid: (s: string) => boolean): NameLists | undefined {
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw)) throw new PolicyShapeError(path, "must be an object with allow and/or deny lists");
  onlyKeys(raw, ["allow", "deny"], path);
  const allow = stringList(raw.allow, `${path}.allow`, valid);
  const deny = stringList(raw.deny, `${path}.deny`, valid);
  return { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) };
}

export function onDenied(raw: unknown, path: string): "refuse" | "mask" | undefined {
  if (raw === undefined) return undefined;
  if (raw !== "refuse" && raw !== "mask") throw new PolicyShapeError(path, 'must be "refuse" or "mask"');
  return raw;
}
