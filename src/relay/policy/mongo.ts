// The client's MongoDB policy: which collections the relay may read, which fields never leave, which extra
// aggregation stages are opened, and the check every query passes before it reaches the driver.
import type { MongoQuery } from "../types.ts";
import { FORBIDDEN, SUSPICIOUS_KEY } from "./mongo-operators.ts";
import {
  checkCollection,
  FILTER,
  mention,
  MongoRefused,
  type WalkState,
  walk,
  walkFieldMap,
  walkPipeline,
} from "./mongo-walk.ts";
import {
  canonicalJson,
  fingerprintOf,
  isPlainObject,
  type NameLists,
  nameLists,
  onDenied,
  onlyKeys,
  PolicyShapeError,
  stringList,
} from "./nosql-shared.ts";

export interface MongoPolicy {
  /** Names or "prefix*"; deny wins; no allow list means no collection is readable. */
  collections?: NameLists;
  /**
   * Dotted field paths that never leave the database. "refuse" (the default): a query that mentions one is
   * refused. "mask": a query may mention one in what it returns (a projection, a pipeline); the executor removes
   * the field server-side before the query's own stages run, and lists top-level ones in forcedMask so they show
   * as redacted. In both modes filters, sorts and join keys that could test a denied value are refused.
   */
  fields?: { deny?: string[]; on_denied?: "refuse" | "mask" };
  /** Extra aggregation stages on top of the built-in read-only list; $out, $merge and friends can never be added. */
  stages?: { allow?: string[] };
}

export type MongoCheck =
  | { ok: true; collections: string[]; normalized: string; fingerprint: string; forcedMask: string[] }
  | { ok: false; reason: string };

const OPERATIONS = ["find", "aggregate", "countDocuments", "distinct"] as const;
const validCollection = (s: string): boolean => !SUSPICIOUS_KEY.test(s) && !s.includes("$");
const validPath = (s: string): boolean =>
  !SUSPICIOUS_KEY.test(s) && !s.includes("$") && !s.includes("*") && !s.split(".").includes("");

/** Parses the policy as written in the relay's configuration; throws a message naming the bad setting. */
export function validateMongoPolicy(raw: unknown, path = "policy"): MongoPolicy {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new PolicyShapeError(path, "must be an object");
  onlyKeys(raw, ["collections", "fields", "stages"], path);
  const policy: MongoPolicy = {};
  const collections = nameLists(raw.collections, `${path}.collections`, validCollection);
  if (collections) policy.collections = collections;
  if (raw.fields !== undefined) {
    if (!isPlainObject(raw.fields)) throw new PolicyShapeError(`${path}.fields`, "must be an object");
    onlyKeys(raw.fields, ["deny", "on_denied"], `${path}.fields`);
    const deny = stringList(raw.fields.deny, `${path}.fields.deny`, validPath);
    const mode = onDenied(raw.fields.on_denied, `${path}.fields.on_denied`);
    policy.fields = { ...(deny ? { deny } : {}), ...(mode ? { on_denied: mode } : {}) };
  }
  if (raw.stages !== undefined) {
    if (!isPlainObject(raw.stages)) throw new PolicyShapeError(`${path}.stages`, "must be an object");
    onlyKeys(raw.stages, ["allow"], `${path}.stages`);
    const allow = stringList(raw.stages.allow, `${path}.stages.allow`, (s) => /^\$[A-Za-z]+$/.test(s));
    const forbidden = allow?.find((s) => FORBIDDEN.has(s));
    if (forbidden) throw new PolicyShapeError(`${path}.stages.allow`, `${forbidden} can never be allowed`);
    policy.stages = allow ? { allow } : {};
  }
  return policy;
}

const PARTS: Record<(typeof OPERATIONS)[number], readonly string[]> = {
  find: ["filter", "projection", "sort", "limit"],
  aggregate: ["pipeline", "limit"],
  countDocuments: ["filter", "limit"],
  distinct: ["field", "filter"],
};

/** Checks one query against the policy; a refusal's reason is written for the person who asked. */
export function checkMongoQuery(q: MongoQuery, policy: MongoPolicy): MongoCheck {
  try {
    return { ok: true, ...checkOrThrow(q, policy) };
  } catch (e) {
    if (e instanceof MongoRefused) return { ok: false, reason: e.message };
    throw e;
  }
}

function checkOrThrow(q: MongoQuery, policy: MongoPolicy): Omit<Extract<MongoCheck, { ok: true }>, "ok"> {
  if (!isPlainObject(q)) throw new MongoRefused("the query must be an object");
  const raw = q as unknown as Record<string, unknown>;
  const operation = raw.operation ?? "find";
  if (typeof operation !== "string" || !(OPERATIONS as readonly string[]).includes(operation))
    throw new MongoRefused(`operation ${JSON.stringify(operation)} is not allowed (only ${OPERATIONS.join(", ")})`);
  const op = operation as (typeof OPERATIONS)[number];
  for (const k of Object.keys(raw)) {
    if (k !== "collection" && k !== "operation" && !PARTS[op].includes(k))
      throw new MongoRefused(`"${k}" is not accepted for a ${op}`);
  }
  const st: WalkState = {
    collections: policy.collections,
    extraStages: new Set(policy.stages?.allow ?? []),
    denied: policy.fields?.deny ?? [],
    refuseMentions: (policy.fields?.on_denied ?? "refuse") === "refuse",
    read: [],
    mentioned: new Set(),
  };
  const shape: Record<string, unknown> = { collection: checkCollection(raw.collection, st), operation: op };
  if (raw.filter !== undefined) {
    if (!isPlainObject(raw.filter)) throw new MongoRefused("filter must be an object");
    shape.filter = walk(raw.filter, st, FILTER);
  }
  if (raw.projection !== undefined) shape.projection = walkFieldMap(raw.projection, st, "projection");
  if (raw.sort !== undefined) shape.sort = walkFieldMap(raw.sort, st, "sort");
  if (op === "aggregate") shape.pipeline = walkPipeline(raw.pipeline, st, "pipeline");
  if (op === "distinct") {
    if (typeof raw.field !== "string" || raw.field.length === 0) throw new MongoRefused("distinct needs a field");
    if (!validPath(raw.field)) throw new MongoRefused(`field name ${JSON.stringify(raw.field)} is not accepted`);
    // distinct returns the field's values themselves, so a denied field is refused in both modes.
    mention(raw.field, st, true);
    shape.field = raw.field;
  }
  if (raw.limit !== undefined) {
    if (typeof raw.limit !== "number" || !Number.isInteger(raw.limit) || raw.limit < 0)
      throw new MongoRefused("limit must be a whole number");
    shape.limit = "?";
  }
  const normalized = canonicalJson(shape);
  const forcedMask = [...st.mentioned].filter((p) => !p.includes("."));
  return { collections: st.read, normalized, fingerprint: fingerprintOf(normalized), forcedMask };
}
