// What the executor asks the driver for, once the policy has accepted a query: the row fetch limit, and the
// server-side removal of denied fields (an $unset before the pipeline's own stages and inside every join's
// sub-pipeline, an exclusion projection for a find), so their values never leave the database. Pure.
import { BSON } from "mongodb";
import type { MongoPolicy } from "../policy/mongo.ts";
import { touchesDenied } from "../policy/nosql-shared.ts";
import { type MongoQuery, type QueryLimits, RelayRefusal } from "../types.ts";
import { fetchLimit } from "./documents.ts";

export type MongoPlan =
  | { op: "find"; filter: object; projection?: Record<string, unknown>; sort?: Record<string, unknown>; limit: number }
  | { op: "aggregate"; pipeline: Record<string, unknown>[] }
  | { op: "countDocuments"; filter: object; limit?: number }
  | { op: "distinct"; field: string; filter: object };

/**
 * A request arrives as JSON, which cannot say "ObjectId" or "Date": Extended JSON wrappers ({"$oid": ...},
 * {"$date": ...}, {"$numberDecimal": ...}) become BSON values here, before the policy check, so that the check
 * sees what the driver will send (a {"$code": ...} becomes Code, which the policy refuses).
 */
export function decodeExtendedJson(q: MongoQuery): MongoQuery {
  if (q === null || typeof q !== "object") return q;
  const decode = (v: unknown): unknown =>
    v !== null && typeof v === "object" ? BSON.EJSON.deserialize(v as BSON.Document, { relaxed: true }) : v;
  try {
    const out: Record<string, unknown> = { ...q };
    for (const part of ["filter", "projection", "sort", "pipeline"] as const)
      if (part in q) out[part] = decode(q[part]);
    return out as unknown as MongoQuery;
  } catch (e) {
    throw new RelayRefusal(
      "invalid",
      `the query's Extended JSON is malformed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function unsetStage(denied: readonly string[]): Record<string, unknown>[] {
  return denied.length > 0 ? [{ $unset: [...denied] }] : [];
}

function asObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Adds the $unset to the sub-pipelines of $lookup and $unionWith (also inside $facet), which read other collections. */
export function cleanPipeline(
  pipeline: readonly Record<string, unknown>[],
  denied: readonly string[],
): Record<string, unknown>[] {
  if (denied.length === 0) return [...pipeline];
  return pipeline.map((stage) => {
    const [name, arg] = Object.entries(stage)[0] ?? [];
    if (name === "$lookup") {
      const spec = asObject(arg);
      const sub = Array.isArray(spec.pipeline) ? (spec.pipeline as Record<string, unknown>[]) : [];
      return { $lookup: { ...spec, pipeline: [...unsetStage(denied), ...cleanPipeline(sub, denied)] } };
    }
    if (name === "$unionWith") {
      const spec = typeof arg === "string" ? { coll: arg } : asObject(arg);
      const sub = Array.isArray(spec.pipeline) ? (spec.pipeline as Record<string, unknown>[]) : [];
      return { $unionWith: { ...spec, pipeline: [...unsetStage(denied), ...cleanPipeline(sub, denied)] } };
    }
    if (name === "$facet") {
      const facets = Object.entries(asObject(arg)).map(([k, sub]) => [
        k,
        cleanPipeline(Array.isArray(sub) ? (sub as Record<string, unknown>[]) : [], denied),
      ]);
      return { $facet: Object.fromEntries(facets) };
    }
    return stage;
  });
}

const includes = (v: unknown): boolean => v !== 0 && v !== false;

/**
 * A find's projection with denied fields taken out: an inclusion projection loses the denied keys (a parent
 * such as "card" for "card.number" stays; the collector strips the child), anything else excludes them.
 */
export function findProjection(
  projection: Record<string, unknown> | undefined,
  denied: readonly string[],
): Record<string, unknown> | undefined {
  if (denied.length === 0) return projection;
  const entries = Object.entries(projection ?? {});
  const inclusive = entries.some(([k, v]) => k !== "_id" && includes(v));
  if (inclusive) {
    const kept = entries.filter(([k]) => {
      const hit = touchesDenied(k, denied);
      return hit === undefined || k.split(".").length < hit.split(".").length;
    });
    if (kept.some(([k, v]) => k !== "_id" && includes(v))) return Object.fromEntries(kept);
  }
  const exclusions = entries.filter(([k, v]) => !includes(v) && touchesDenied(k, denied) === undefined);
  return Object.fromEntries([...exclusions, ...denied.map((d) => [d, 0] as const)]);
}

/** The driver call for an accepted query. */
export function planMongoQuery(q: MongoQuery, policy: MongoPolicy, limits: Pick<QueryLimits, "maxRows">): MongoPlan {
  const denied = policy.fields?.deny ?? [];
  const filter = q.filter ?? {};
  switch (q.operation ?? "find") {
    case "aggregate": {
      const pipeline = [...unsetStage(denied), ...cleanPipeline(q.pipeline ?? [], denied)];
      return { op: "aggregate", pipeline: [...pipeline, { $limit: fetchLimit(q.limit, limits.maxRows) }] };
    }
    case "countDocuments":
      return { op: "countDocuments", filter, ...(q.limit ? { limit: q.limit } : {}) };
    case "distinct":
      return { op: "distinct", field: q.field ?? "", filter };
    default: {
      const projection = findProjection(q.projection, denied);
      return {
        op: "find",
        filter,
        ...(projection ? { projection } : {}),
        ...(q.sort ? { sort: q.sort } : {}),
        limit: fetchLimit(q.limit, limits.maxRows),
      };
    }
  }
}
