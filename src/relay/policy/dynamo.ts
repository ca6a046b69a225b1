// The client's DynamoDB policy: which tables the relay may read, which attributes never leave, how many pages a
// Query or Scan may read, and the check every request passes before it reaches the AWS SDK.
import type { DynamoQuery } from "../types.ts";
import { ExpressionRefused, expressionRefs } from "./dynamo-expression.ts";
import {
  canonicalJson,
  fingerprintOf,
  isPlainObject,
  type NameLists,
  nameAllowed,
  nameLists,
  onDenied,
  onlyKeys,
  PolicyShapeError,
  stringList,
  touchesDenied,
} from "./nosql-shared.ts";

export interface DynamoPolicy {
  /** Table names or "prefix*"; deny wins; no allow list means no table is readable. */
  tables?: NameLists;
  /**
   * Attribute paths ("ssn", "card.number") that never leave. In both modes a key, key condition or filter that
   * mentions one is refused (it would reveal the value by elimination) and the executor removes them from items.
   * "mask" additionally keeps a top-level denied attribute as a column listed in forcedMask, so it shows as
   * redacted instead of silently missing.
   */
  attributes?: { deny?: string[]; on_denied?: "refuse" | "mask" };
  /** Pages a Query or Scan may read (1 MB each at most); default 10. */
  max_pages?: number;
}

export const DEFAULT_MAX_PAGES = 10;
const OPERATIONS = ["GetItem", "Query", "Scan", "DescribeTable"] as const;
type Operation = (typeof OPERATIONS)[number];
const TABLE = /^[A-Za-z0-9_.-]{3,255}$/;
const validPattern = (s: string): boolean => TABLE.test(s.endsWith("*") ? `${s.slice(0, -1)}xxx` : s);
const validPath = (s: string): boolean => /^[^.\s#:[\]]+(\.[^.\s#:[\]]+)*$/.test(s);

/** Parses the policy as written in the relay's configuration; throws a message naming the bad setting. */
export function validateDynamoPolicy(raw: unknown, path = "policy"): DynamoPolicy {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new PolicyShapeError(path, "must be an object");
  onlyKeys(raw, ["tables", "attributes", "max_pages"], path);
  const policy: DynamoPolicy = {};
  const tables = nameLists(raw.tables, `${path}.tables`, validPattern);
  if (tables) policy.tables = tables;
  if (raw.attributes !== undefined) {
    if (!isPlainObject(raw.attributes)) throw new PolicyShapeError(`${path}.attributes`, "must be an object");
    onlyKeys(raw.attributes, ["deny", "on_denied"], `${path}.attributes`);
    const deny = stringList(raw.attributes.deny, `${path}.attributes.deny`, validPath);
    const mode = onDenied(raw.attributes.on_denied, `${path}.attributes.on_denied`);
    policy.attributes = { ...(deny ? { deny } : {}), ...(mode ? { on_denied: mode } : {}) };
  }
  if (raw.max_pages !== undefined) {
    const n = raw.max_pages;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 1000)
      throw new PolicyShapeError(`${path}.max_pages`, "must be a whole number from 1 to 1000");
    policy.max_pages = n;
  }
  return policy;
}

export type DynamoCheck =
  | { ok: true; operation: Operation; tables: string[]; normalized: string; fingerprint: string; forcedMask: string[] }
  | { ok: false; reason: string };

const PARTS: Record<Operation, readonly string[]> = {
  GetItem: ["key"],
  Query: ["key_condition", "filter", "index", "values", "names", "limit"],
  Scan: ["filter", "index", "values", "names", "limit"],
  DescribeTable: [],
};

/** A request without an operation is read by what it carries: a key is a GetItem, a key condition a Query. */
export function operationOf(q: DynamoQuery): unknown {
  return q.operation ?? (q.key !== undefined ? "GetItem" : q.key_condition !== undefined ? "Query" : "Scan");
}

/** Checks one request against the policy; a refusal's reason is written for the person who asked. */
export function checkDynamoQuery(q: DynamoQuery, policy: DynamoPolicy): DynamoCheck {
  try {
    return checkOrThrow(q, policy);
  } catch (e) {
    if (e instanceof ExpressionRefused) return { ok: false, reason: e.message };
    throw e;
  }
}

function checkOrThrow(q: DynamoQuery, policy: DynamoPolicy): DynamoCheck {
  const no = (reason: string): DynamoCheck => ({ ok: false, reason });
  if (!isPlainObject(q)) return no("the request must be an object");
  const raw = q as unknown as Record<string, unknown>;
  const op = operationOf(q);
  if (typeof op !== "string" || !(OPERATIONS as readonly string[]).includes(op))
    return no(`operation ${JSON.stringify(op)} is not allowed (only ${OPERATIONS.join(", ")})`);
  const operation = op as Operation;
  const extra = Object.keys(raw).find((k) => k !== "table" && k !== "operation" && !PARTS[operation].includes(k));
  if (extra) return no(`"${extra}" is not accepted for a ${operation}`);
  if (typeof raw.table !== "string" || !TABLE.test(raw.table)) return no("a valid table name is missing");
  if (!nameAllowed(raw.table, policy.tables)) return no(`table "${raw.table}" is not allowed by the relay policy`);
  if (q.index !== undefined && (typeof q.index !== "string" || !TABLE.test(q.index)))
    return no("index must be an index name");
  if (q.limit !== undefined && (typeof q.limit !== "number" || !Number.isInteger(q.limit) || q.limit < 1))
    return no("limit must be a whole number above zero");
  if (operation === "GetItem" && (!isPlainObject(q.key) || Object.keys(q.key).length === 0))
    return no("GetItem needs a key");
  if (operation === "Query" && (typeof q.key_condition !== "string" || q.key_condition.trim() === ""))
    return no("Query needs a key_condition");
  if (q.filter !== undefined && typeof q.filter !== "string") return no("filter must be an expression");

  const names = q.names ?? {};
  if (!isPlainObject(names)) return no("names must map #placeholders to attribute names");
  for (const [k, v] of Object.entries(names))
    if (!/^#[A-Za-z0-9_]+$/.test(k) || typeof v !== "string" || v.length === 0)
      return no(`names entry ${JSON.stringify(k)} is not valid`);
  const values = q.values ?? {};
  if (!isPlainObject(values)) return no("values must map :placeholders to values");
  for (const k of Object.keys(values))
    if (!/^:[A-Za-z0-9_]+$/.test(k)) return no(`values entry ${JSON.stringify(k)} is not valid`);

  const mentioned = [
    ...Object.keys(q.key ?? {}),
    ...Object.values(names),
    ...[q.key_condition, q.filter].flatMap((e) => (typeof e === "string" ? expressionRefs(e, names).paths : [])),
  ];
  const denied = policy.attributes?.deny ?? [];
  for (const path of mentioned) {
    const hit = touchesDenied(path, denied);
    if (hit) return no(`attribute "${hit}" is denied by the relay policy and cannot be used in a key or condition`);
  }
  const shape = {
    table: raw.table,
    operation,
    ...(q.key ? { key: Object.fromEntries(Object.keys(q.key).map((k) => [k, "?"])) } : {}),
    ...(q.key_condition ? { key_condition: q.key_condition.replace(/\s+/g, " ").trim() } : {}),
    ...(q.filter ? { filter: q.filter.replace(/\s+/g, " ").trim() } : {}),
    ...(q.index ? { index: q.index } : {}),
    ...(q.names ? { names } : {}),
    ...(q.values ? { values: Object.fromEntries(Object.keys(values).map((k) => [k, "?"])) } : {}),
    ...(q.limit !== undefined ? { limit: "?" } : {}),
  };
  const normalized = canonicalJson(shape);
  const forcedMask = policy.attributes?.on_denied === "mask" ? denied.filter((d) => !d.includes(".")) : [];
  return { ok: true, operation, tables: [raw.table], normalized, fingerprint: fingerprintOf(normalized), forcedMask };
}
