// Walks a MongoDB filter, projection, sort or pipeline, refusing what the relay must never run and returning
// the same shape with every literal replaced by "?" (the normalized text the audit trail keeps).
import { nameAllowed, type NameLists, touchesDenied } from "./nosql-shared.ts";
import {
  FORBIDDEN,
  JOIN_STAGES,
  OPERATORS,
  SAFE_BSON_TYPES,
  SAFE_STAGES,
  SUSPICIOUS_KEY,
  WHOLE_DOCUMENT_READERS,
  WHOLE_DOCUMENT_VARIABLES,
} from "./mongo-operators.ts";

/** Thrown inside the walk; checkMongoQuery turns it into { ok: false, reason }. */
export class MongoRefused extends Error {}

export interface WalkState {
  collections: NameLists | undefined;
  extraStages: ReadonlySet<string>;
  denied: readonly string[];
  /** on_denied "refuse": any mention of a denied field is refused, not only the ones that could test its value. */
  refuseMentions: boolean;
  /** Collections read, in first-seen order. */
  read: string[];
  /** Denied fields mentioned where the policy lets them through (they come back removed and force-masked). */
  mentioned: Set<string>;
}

/**
 * How a value is read: query semantics (keys are field paths, strings are literals), expression semantics
 * ("$a.b" strings are field paths) or a pure literal. An oracle runs on stored documents before denied fields
 * are removed (a find filter, the foreign side of a join), so it may never mention them in either mode.
 */
export interface Mode {
  kind: "query" | "expr" | "literal";
  oracle: boolean;
}
export const FILTER: Mode = { kind: "query", oracle: true };
const MATCH: Mode = { kind: "query", oracle: false };
export const EXPR: Mode = { kind: "expr", oracle: false };
const LITERAL: Mode = { kind: "literal", oracle: false };

const refuse = (reason: string): never => {
  throw new MongoRefused(reason);
};

export function checkCollection(name: unknown, st: WalkState): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 255) return refuse("a collection name is missing");
  if (SUSPICIOUS_KEY.test(name) || name.includes("$") || name.startsWith("system."))
    return refuse(`collection ${JSON.stringify(name)} is not a valid collection name`);
  if (!nameAllowed(name, st.collections)) return refuse(`collection "${name}" is not allowed by the relay policy`);
  if (!st.read.includes(name)) st.read.push(name);
  return name;
}

function checkOperator(key: string, stage = false): void {
  if (FORBIDDEN.has(key)) refuse(`${key} is never allowed: it writes data or runs JavaScript on the server`);
  if (stage) return;
  if (!OPERATORS.has(key)) refuse(`operator ${JSON.stringify(key)} is not recognized, so it is refused`);
}

/** A key that is a field name: no look-alike characters, no "$" except a find projection's trailing ".$". */
function checkFieldKey(key: string, positional = false): void {
  const bare = positional && key.endsWith(".$") ? key.slice(0, -2) : key;
  if (bare.length === 0 || SUSPICIOUS_KEY.test(bare) || bare.includes("$") || bare.split(".").includes(""))
    refuse(`field name ${JSON.stringify(key)} is not accepted`);
  if (bare === "__proto__" || bare === "_bsontype" || bare.endsWith("._bsontype"))
    refuse(`field name ${JSON.stringify(key)} is not accepted`);
}

/** Records or refuses a mention of a field path, depending on where it appears. */
export function mention(path: string, st: WalkState, oracle: boolean): void {
  const hit = touchesDenied(path, st.denied);
  if (hit === undefined) return;
  if (oracle || st.refuseMentions)
    refuse(`field "${hit}" is denied by the relay policy and cannot be used in this query`);
  st.mentioned.add(hit);
}

function scalar(v: unknown): "?" {
  if (typeof v === "function" || typeof v === "symbol") refuse("functions and symbols are not accepted in a query");
  return "?";
}

/** BSON values stay literals unless they carry code (Code), point elsewhere (DBRef) or are unknown. */
function bsonLiteral(v: object): "?" | undefined {
  if (v instanceof Date || v instanceof RegExp) return "?";
  const type = (v as { _bsontype?: unknown })._bsontype;
  if (type === undefined) return undefined;
  if (typeof type === "string" && SAFE_BSON_TYPES.has(type)) return "?";
  return refuse(
    `a ${String(type)} value is not accepted in a query${type === "Code" ? " (it carries JavaScript)" : ""}`,
  );
}

function walkString(s: string, st: WalkState, mode: Mode): string {
  if (mode.kind !== "expr" || !s.startsWith("$")) return "?";
  if (s.startsWith("$$")) {
    const root = s.split(".")[0] ?? s;
    if (!/^\$\$[A-Za-z_][A-Za-z0-9_]*$/.test(root)) refuse(`variable ${JSON.stringify(s)} is not accepted`);
    if (WHOLE_DOCUMENT_VARIABLES.has(root) && st.denied.length > 0 && (mode.oracle || st.refuseMentions))
      refuse(`${root} reads whole documents, which include fields the relay policy denies`);
    return s;
  }
  checkFieldKey(s.slice(1));
  mention(s.slice(1), st, mode.oracle);
  return s;
}

export function walk(v: unknown, st: WalkState, mode: Mode): unknown {
  if (typeof v === "string") return walkString(v, st, mode);
  if (v === null || typeof v !== "object") return scalar(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, st, mode));
  const bson = bsonLiteral(v);
  if (bson) return bson;
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null)
    refuse("only plain JSON objects are accepted in a query");
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(v)) {
    if (key.startsWith("$")) {
      checkOperator(key);
      out[key] = walkOperator(key, inner, st, mode);
      continue;
    }
    checkFieldKey(key);
    // Under query semantics a key is a field path; in an expression it names an output (or an operator's
    // argument): either way a denied name there is treated as a mention, which fails closed.
    if (mode.kind !== "literal") mention(key, st, mode.oracle);
    out[key] = walk(inner, st, mode);
  }
  return out;
}

function walkOperator(op: string, arg: unknown, st: WalkState, mode: Mode): unknown {
  if (WHOLE_DOCUMENT_READERS.has(op) && st.denied.length > 0 && (mode.oracle || st.refuseMentions))
    refuse(`${op} can read any field, including ones the relay policy denies, so it is refused here`);
  if (op === "$literal") return walk(arg, st, LITERAL);
  if (op === "$expr") return walk(arg, st, { kind: "expr", oracle: mode.oracle });
  return walk(arg, st, mode);
}

/** A find projection or a sort: keys are field paths; values 0/1, -1, or expressions ($slice, $meta, ...). */
export function walkFieldMap(v: unknown, st: WalkState, what: "projection" | "sort"): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return refuse(`${what} must be an object`);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(v)) {
    if (key === "$natural" && what === "sort") {
      out[key] = scalar(inner);
      continue;
    }
    checkFieldKey(key, what === "projection");
    // A find's sort runs on the stored documents, so sorting by a denied field would reveal its order.
    mention(key.replace(/\.\$$/, ""), st, what === "sort");
    out[key] = walk(inner, st, EXPR);
  }
  return out;
}

export function walkPipeline(p: unknown, st: WalkState, where: string): unknown[] {
  if (!Array.isArray(p)) return refuse(`${where} must be a list of stages`);
  return p.map((stage, i) => walkStage(stage, st, `${where} stage ${i + 1}`));
}

function walkStage(stage: unknown, st: WalkState, where: string): unknown {
  if (stage === null || typeof stage !== "object" || Array.isArray(stage)) return refuse(`${where} must be an object`);
  const keys = Object.keys(stage);
  const name = keys[0];
  if (keys.length !== 1 || name === undefined) return refuse(`${where} must have exactly one stage name`);
  checkOperator(name, true);
  if (!SAFE_STAGES.has(name) && !st.extraStages.has(name)) refuse(`stage ${JSON.stringify(name)} is not allowed`);
  const arg = (stage as Record<string, unknown>)[name];
  if (JOIN_STAGES.has(name)) return { [name]: walkJoin(name, arg, st, where) };
  if (name === "$facet") {
    if (arg === null || typeof arg !== "object" || Array.isArray(arg))
      return refuse(`${where}: $facet needs an object`);
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(arg)) {
      checkFieldKey(k);
      out[k] = walkPipeline(sub, st, `${where} facet "${k}"`);
    }
    return { $facet: out };
  }
  if (name === "$match") return { $match: walk(arg, st, MATCH) };
  if (name === "$sort") return { $sort: walkFieldMap(arg, st, "sort") };
  return { [name]: walk(arg, st, EXPR) };
}

const JOIN_KEYS: Record<string, readonly string[]> = {
  $lookup: ["from", "localField", "foreignField", "as", "let", "pipeline"],
  $graphLookup: [
    "from",
    "startWith",
    "connectFromField",
    "connectToField",
    "as",
    "maxDepth",
    "depthField",
    "restrictSearchWithMatch",
  ],
  $unionWith: ["coll", "pipeline"],
};

function walkJoin(name: string, arg: unknown, st: WalkState, where: string): unknown {
  const spec = name === "$unionWith" && typeof arg === "string" ? { coll: arg } : arg;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec))
    return refuse(`${where}: ${name} needs an object`);
  const s = spec as Record<string, unknown>;
  for (const k of Object.keys(s))
    if (!JOIN_KEYS[name]?.includes(k)) refuse(`${where}: ${name} option ${JSON.stringify(k)} is not accepted`);
  if (name === "$graphLookup" && st.denied.length > 0)
    refuse("$graphLookup returns whole documents of another collection and cannot be used while fields are denied");
  const out: Record<string, unknown> = {};
  out[name === "$unionWith" ? "coll" : "from"] = checkCollection(name === "$unionWith" ? s.coll : s.from, st);
  for (const [k, v] of Object.entries(s)) {
    if (k === "from" || k === "coll") continue;
    if (k === "pipeline") out[k] = walkPipeline(v, st, `${where} ${name} pipeline`);
    else if (k === "restrictSearchWithMatch") out[k] = walk(v, st, FILTER);
    else if (k === "let" || k === "startWith") out[k] = walk(v, st, EXPR);
    else if (typeof v === "string" && k !== "maxDepth") {
      checkFieldKey(v);
      // The foreign side of a join is matched on stored documents before anything is removed.
      mention(v, st, k === "foreignField" || k === "connectToField");
      out[k] = v;
    } else out[k] = k === "maxDepth" ? scalar(v) : refuse(`${where}: ${name}.${k} must be a field name`);
  }
  return out;
}
