// The relay's MongoDB and DynamoDB policies: what a client's policy lets through, what is refused at any depth,
// and that the normalized text kept for the audit trail carries no literal from the request.
import { describe, expect, test } from "bun:test";
import { Code, ObjectId } from "mongodb";
import { checkDynamoQuery, type DynamoPolicy, validateDynamoPolicy } from "../../src/relay/policy/dynamo.ts";
import { checkMongoQuery, type MongoPolicy, validateMongoPolicy } from "../../src/relay/policy/mongo.ts";
import type { DynamoQuery, MongoQuery } from "../../src/relay/types.ts";

const POLICY: MongoPolicy = {
  collections: { allow: ["orders", "customers", "audit_*"], deny: ["audit_secret"] },
  fields: { deny: ["ssn", "card.number"] },
};
const MASK: MongoPolicy = { ...POLICY, fields: { deny: ["ssn", "card.number"], on_denied: "mask" } };

const q = (over: Partial<MongoQuery> & Record<string, unknown>): MongoQuery =>
  ({ collection: "orders", ...over }) as MongoQuery;
const agg = (pipeline: unknown[], collection = "orders"): MongoQuery =>
  q({ collection, operation: "aggregate", pipeline } as never);

function refused(query: MongoQuery, policy: MongoPolicy = POLICY): string {
  const r = checkMongoQuery(query, policy);
  if (r.ok) throw new Error(`expected a refusal for ${JSON.stringify(query)}`);
  return r.reason;
}

function accepted(query: MongoQuery, policy: MongoPolicy = POLICY) {
  const r = checkMongoQuery(query, policy);
  if (!r.ok) throw new Error(`expected acceptance, got: ${r.reason}`);
  return r;
}

describe("MongoDB policy: what a client can read", () => {
  test("find, aggregate, countDocuments and distinct on allowed collections pass, with the collections they read", () => {
    expect(
      accepted(
        q({ filter: { status: "open", total: { $gt: 10 } }, projection: { status: 1 }, sort: { total: -1 }, limit: 5 }),
      ).collections,
    ).toEqual(["orders"]);
    expect(accepted(q({ operation: "countDocuments", filter: { status: "open" } })).collections).toEqual(["orders"]);
    expect(accepted(q({ operation: "distinct", field: "status", filter: {} })).collections).toEqual(["orders"]);
    const joined = accepted(
      agg([
        { $match: { status: "open" } },
        { $lookup: { from: "customers", localField: "customer_id", foreignField: "_id", as: "customer" } },
        { $unwind: "$customer" },
        { $group: { _id: "$customer.country", n: { $sum: 1 }, avg: { $avg: "$total" } } },
        { $sort: { n: -1 } },
        { $limit: 10 },
      ]),
    );
    expect(joined.collections).toEqual(["orders", "customers"]);
    expect(
      accepted(agg([{ $unionWith: { coll: "audit_2024", pipeline: [{ $match: { a: 1 } }] } }])).collections,
    ).toEqual(["orders", "audit_2024"]);
    accepted(
      agg([
        { $facet: { open: [{ $match: { status: "open" } }, { $count: "n" }], top: [{ $sortByCount: "$status" }] } },
      ]),
    );
    accepted(
      agg([
        { $bucket: { groupBy: "$total", boundaries: [0, 10, 100], default: "other" } },
        { $replaceWith: { n: "$count" } },
      ]),
    );
    accepted(
      agg([
        { $sample: { size: 3 } },
        { $set: { d: { $dateToString: { date: "$at", format: "%Y" } } } },
        { $unset: "d" },
      ]),
    );
  });

  test("a query without an operation is a find; one the policy does not know is refused", () => {
    expect(accepted(q({ filter: {} })).normalized).toContain('"operation":"find"');
    for (const op of [
      "insertOne",
      "insertMany",
      "updateMany",
      "deleteMany",
      "bulkWrite",
      "findOneAndUpdate",
      "replaceOne",
      "drop",
      "createIndex",
      "runCommand",
      "mapReduce",
      "watch",
    ])
      expect(refused(q({ operation: op } as never))).toContain(`operation "${op}" is not allowed`);
  });

  test("collections: nothing without an allow list, deny over allow, prefixes, and no system collections", () => {
    expect(refused(q({}), {})).toContain('collection "orders" is not allowed');
    expect(refused(q({ collection: "payments" }))).toContain('"payments" is not allowed');
    expect(refused(q({ collection: "audit_secret" }))).toContain('"audit_secret" is not allowed');
    accepted(q({ collection: "audit_2024" }));
    expect(refused(q({ collection: "system.users" }), { collections: { allow: ["system.*"] } })).toContain(
      "not a valid collection name",
    );
    expect(refused(q({ collection: "" }))).toContain("collection name is missing");
    expect(refused(q({ collection: "ord\u0000ers" }))).toContain("not a valid collection name");
  });

  test("joins only into allowed collections: $lookup, $graphLookup and $unionWith, also when nested", () => {
    expect(refused(agg([{ $lookup: { from: "payments", localField: "a", foreignField: "b", as: "p" } }]))).toContain(
      '"payments" is not allowed',
    );
    expect(refused(agg([{ $lookup: { from: "audit_secret", pipeline: [], as: "p" } }]))).toContain('"audit_secret"');
    expect(refused(agg([{ $unionWith: "payments" }]))).toContain('"payments" is not allowed');
    expect(refused(agg([{ $unionWith: { coll: "customers", pipeline: [{ $unionWith: "payments" }] } }]))).toContain(
      '"payments"',
    );
    expect(refused(agg([{ $facet: { x: [{ $lookup: { from: "payments", pipeline: [], as: "p" } }] } }]))).toContain(
      '"payments"',
    );
    expect(refused(agg([{ $lookup: { from: { db: "other", coll: "orders" }, pipeline: [], as: "p" } }]))).toContain(
      "collection name is missing",
    );
    expect(
      refused(
        agg([
          { $graphLookup: { from: "payments", startWith: "$a", connectFromField: "a", connectToField: "b", as: "g" } },
        ]),
        { collections: POLICY.collections },
      ),
    ).toContain('"payments"');
    accepted(
      agg([
        { $graphLookup: { from: "customers", startWith: "$a", connectFromField: "a", connectToField: "b", as: "g" } },
      ]),
      { collections: POLICY.collections },
    );
  });
});

describe("MongoDB policy: what is never run", () => {
  test("$out and $merge are refused at the top level, inside $facet, and inside join sub-pipelines", () => {
    for (const stage of [{ $out: "copy" }, { $merge: { into: "copy" } }]) {
      const name = Object.keys(stage)[0];
      expect(refused(agg([stage]))).toContain(`${name} is never allowed`);
      expect(refused(agg([{ $facet: { a: [{ $match: {} }, stage] } }]))).toContain(`${name} is never allowed`);
      expect(refused(agg([{ $lookup: { from: "customers", pipeline: [stage], as: "c" } }]))).toContain(
        `${name} is never allowed`,
      );
      expect(refused(agg([{ $unionWith: { coll: "customers", pipeline: [stage] } }]))).toContain(
        `${name} is never allowed`,
      );
    }
  });

  test("$function, $accumulator and $where are refused at any depth: filter, $expr, $group, $project, nested", () => {
    const fn = { $function: { body: "function(){return 1}", args: [], lang: "js" } };
    const acc = {
      $accumulator: {
        init: "function(){}",
        accumulate: "function(){}",
        accumulateArgs: [],
        merge: "function(){}",
        lang: "js",
      },
    };
    expect(refused(q({ filter: { $where: "this.a > 1" } }))).toContain("$where is never allowed");
    expect(refused(q({ filter: { $and: [{ a: 1 }, { $or: [{ $where: "1" }] }] } }))).toContain("$where");
    expect(refused(q({ filter: { $expr: fn } }))).toContain("$function is never allowed");
    expect(refused(q({ filter: { $expr: { $eq: [{ $add: [1, fn] }, 2] } } }))).toContain("$function");
    expect(refused(q({ operation: "countDocuments", filter: { $expr: fn } }))).toContain("$function");
    expect(refused(q({ projection: { x: fn } }))).toContain("$function");
    expect(refused(agg([{ $match: { $expr: fn } }]))).toContain("$function");
    expect(refused(agg([{ $group: { _id: null, x: acc } }]))).toContain("$accumulator is never allowed");
    expect(refused(agg([{ $project: { x: { $map: { input: "$a", in: fn } } } }]))).toContain("$function");
    expect(refused(agg([{ $facet: { a: [{ $addFields: { x: fn } }] } }]))).toContain("$function");
    expect(refused(agg([{ $lookup: { from: "customers", let: { v: fn }, pipeline: [], as: "c" } }]))).toContain(
      "$function",
    );
    expect(refused(agg([{ $setWindowFields: { output: { x: acc } } }]))).toContain("$accumulator");
  });

  test("unknown stages and operators, look-alike spellings, and stages not on the list are refused", () => {
    expect(refused(agg([{ $collStats: {} }]))).toContain('stage "$collStats" is not allowed');
    expect(refused(agg([{ $currentOp: {} }]))).toContain("not allowed");
    expect(refused(agg([{ $geoNear: { near: [0, 0], distanceField: "d" } }]))).toContain("not allowed");
    expect(refused(agg([{ $söhne: {} }]))).toContain("not allowed");
    expect(refused(q({ filter: { a: { $wh\u0435re: 1 } } } as never))).toContain("not recognized");
    expect(refused(q({ filter: { $newServerOperator: 1 } }))).toContain("not recognized");
    expect(refused(q({ filter: { "\uff04where": "1" } }))).toContain("not accepted");
    expect(refused(q({ filter: { "a\u0000b": 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: { "a\u200bb": 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: { "a.$where": 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: { a$b: 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: { "": 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: { "a..b": 1 } }))).toContain("not accepted");
    expect(refused(q({ filter: JSON.parse('{"__proto__": {"x": 1}}') }))).toContain("not accepted");
    expect(refused(q({ filter: { _bsontype: "Code", code: "1" } }))).toContain("not accepted");
    expect(refused(agg([{ $project: { x: "$$NOT-A-VAR" } }]))).toContain("variable");
  });

  test("a policy can open an extra stage, but never one that writes or runs JavaScript", () => {
    const withGeo = validateMongoPolicy({ ...POLICY, stages: { allow: ["$geoNear"] } });
    accepted(agg([{ $geoNear: { near: [0, 0], distanceField: "d" } }]), { ...withGeo, fields: {} });
    expect(() => validateMongoPolicy({ stages: { allow: ["$out"] } })).toThrow("$out can never be allowed");
    expect(() => validateMongoPolicy({ stages: { allow: ["$merge"] } })).toThrow("can never be allowed");
  });

  test("JavaScript values and other odd values are refused", () => {
    expect(refused(q({ filter: { a: new Code("function(){return true}") } }))).toContain("Code value is not accepted");
    expect(refused(agg([{ $match: { a: { $in: [1, new Code("x")] } } }]))).toContain("Code");
    expect(refused(q({ filter: { a: () => 1 } } as never))).toContain("functions");
    expect(refused(q({ filter: { a: new Map() } } as never))).toContain("plain JSON");
    accepted(q({ filter: { _id: new ObjectId(), at: { $gte: new Date() }, name: /^ab/ } }));
  });

  test("malformed requests are refused, never guessed at", () => {
    expect(refused(agg({ $match: {} } as never))).toContain("must be a list of stages");
    expect(refused(q({ operation: "aggregate" }))).toContain("must be a list of stages");
    expect(refused(agg([{ $match: {}, $limit: 1 }]))).toContain("exactly one stage name");
    expect(refused(agg([{}]))).toContain("exactly one stage name");
    expect(refused(agg(["$match"]))).toContain("must be an object");
    expect(refused(agg([{ match: {} }]))).toContain("not allowed");
    expect(refused(q({ filter: [] } as never))).toContain("filter must be an object");
    expect(refused(q({ operation: "distinct" }))).toContain("distinct needs a field");
    expect(refused(q({ operation: "distinct", field: "$where" }))).toContain("not accepted");
    expect(refused(q({ limit: -1 }))).toContain("limit");
    expect(refused(q({ update: { $set: { a: 1 } } }))).toContain('"update" is not accepted');
    expect(refused(q({ operation: "countDocuments", pipeline: [] }))).toContain('"pipeline" is not accepted');
    expect(refused(agg([{ $lookup: { from: "customers", as: "c", pipeline: [], into: "x" } }]))).toContain(
      '"into" is not accepted',
    );
    expect(refused(null as never)).toContain("must be an object");
  });
});

describe("MongoDB policy: denied fields", () => {
  test("refuse mode: a denied field (or its parent, or a child) in a filter, projection, sort or pipeline is refused", () => {
    expect(refused(q({ filter: { ssn: "123" } }))).toContain('field "ssn" is denied');
    expect(refused(q({ filter: { "card.number": { $regex: "^4" } } }))).toContain('"card.number"');
    expect(refused(q({ filter: { $or: [{ a: 1 }, { "ssn.last4": "1234" }] } }))).toContain('"ssn"');
    expect(refused(q({ filter: { $expr: { $eq: ["$ssn", "1"] } } }))).toContain('"ssn"');
    expect(refused(q({ projection: { card: 1 } }))).toContain('"card.number"');
    expect(refused(q({ projection: { ssn: 1 } }))).toContain('"ssn"');
    expect(refused(q({ sort: { ssn: 1 } }))).toContain('"ssn"');
    expect(refused(q({ operation: "distinct", field: "ssn" }))).toContain('"ssn"');
    expect(refused(agg([{ $group: { _id: "$ssn", n: { $sum: 1 } } }]))).toContain('"ssn"');
    expect(refused(agg([{ $project: { x: { $concat: ["$card.number", ""] } } }]))).toContain('"card.number"');
    expect(refused(agg([{ $replaceRoot: { newRoot: "$card" } }]))).toContain('"card.number"');
    expect(refused(agg([{ $project: { doc: "$$ROOT" } }]))).toContain("$$ROOT reads whole documents");
    expect(refused(agg([{ $project: { kv: { $objectToArray: "$$CURRENT" } } }]))).toContain(
      "$objectToArray can read any field",
    );
    expect(
      refused(agg([{ $project: { x: { $getField: { field: { $concat: ["s", "sn"] }, input: "$$this" } } } }])),
    ).toContain("$getField");
    expect(refused(agg([{ $lookup: { from: "customers", localField: "a", foreignField: "ssn", as: "c" } }]))).toContain(
      '"ssn"',
    );
    expect(
      refused(
        agg([
          { $graphLookup: { from: "customers", startWith: "$a", connectFromField: "a", connectToField: "b", as: "g" } },
        ]),
      ),
    ).toContain("$graphLookup");
    accepted(q({ filter: { status: "open" }, projection: { status: 1, "card.brand": 1 } }));
  });

  test("mask mode: a pipeline or projection may name them (removed server-side, top-level ones force-masked); a filter, sort or join key may not", () => {
    expect(accepted(agg([{ $project: { ssn: 1, status: 1 } }]), MASK).forcedMask).toEqual(["ssn"]);
    expect(accepted(q({ projection: { ssn: 1, "card.number": 1 } }), MASK).forcedMask).toEqual(["ssn"]);
    accepted(agg([{ $project: { doc: "$$ROOT" } }]), MASK);
    expect(refused(q({ filter: { ssn: "1" } }), MASK)).toContain('"ssn"');
    expect(refused(q({ filter: { $expr: { $gt: [{ $strLenCP: "$ssn" }, 3] } } }), MASK)).toContain('"ssn"');
    expect(
      refused(q({ filter: { $expr: { $eq: [{ $getField: { field: "ssn", input: "$$ROOT" } }, "1"] } } }), MASK),
    ).toContain("$getField");
    expect(refused(q({ operation: "countDocuments", filter: { "card.number": { $exists: true } } }), MASK)).toContain(
      "card.number",
    );
    expect(refused(q({ sort: { ssn: 1 } }), MASK)).toContain('"ssn"');
    expect(refused(q({ filter: { $text: { $search: "123-45" } } }), MASK)).toContain("$text can read any field");
    accepted(q({ filter: { $text: { $search: "late delivery" } } }), { collections: POLICY.collections });
    expect(refused(q({ operation: "distinct", field: "ssn" }), MASK)).toContain('"ssn"');
    expect(
      refused(agg([{ $lookup: { from: "customers", localField: "a", foreignField: "card.number", as: "c" } }]), MASK),
    ).toContain("card.number");
  });
});

describe("MongoDB policy: normalization", () => {
  test("literals become ?, so a secret in a filter never reaches the audit text; key order does not change the fingerprint", () => {
    const secret = "tok_live_9f8e7d6c5b4a";
    const a = accepted(q({ filter: { api_key: secret, n: { $gt: 41 }, at: new Date(0) }, limit: 3 }));
    expect(a.normalized).not.toContain(secret);
    expect(a.normalized).not.toContain("41");
    expect(a.normalized).toContain('"api_key":"?"');
    const b = accepted(q({ limit: 9, filter: { at: new Date(1), n: { $gt: 7 }, api_key: "other" } }));
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const p = accepted(
      agg([{ $match: { token: "$ecret-looking" } }, { $group: { _id: "$status", t: { $sum: "$total" } } }]),
    );
    expect(p.normalized).not.toContain("ecret-looking");
    expect(p.normalized).toContain('"$status"');
    expect(accepted(agg([{ $project: { x: { $literal: "hidden-literal" } } }])).normalized).not.toContain(
      "hidden-literal",
    );
  });
});

describe("MongoDB policy file", () => {
  test("a valid policy parses; typos, bad modes and bad names name the setting", () => {
    expect(
      validateMongoPolicy({ collections: { allow: ["a", "b_*"] }, fields: { deny: ["x.y"], on_denied: "mask" } }),
    ).toEqual({
      collections: { allow: ["a", "b_*"] },
      fields: { deny: ["x.y"], on_denied: "mask" },
    });
    expect(() => validateMongoPolicy({ colections: {} })).toThrow("policy.colections: unknown setting");
    expect(() => validateMongoPolicy({ collections: { alow: ["a"] } })).toThrow("policy.collections.alow");
    expect(() => validateMongoPolicy({ fields: { on_denied: "hide" } })).toThrow("policy.fields.on_denied");
    expect(() => validateMongoPolicy({ fields: { deny: ["$where"] } })).toThrow("policy.fields.deny[0]");
    expect(() => validateMongoPolicy({ collections: { allow: "orders" } }, "databases.prod.policy")).toThrow(
      "databases.prod.policy.collections.allow",
    );
    expect(validateMongoPolicy(undefined)).toEqual({});
    const everything = validateMongoPolicy({ collections: { allow: ["*"], deny: ["secrets"] } });
    accepted(q({ collection: "anything" }), everything);
    expect(refused(q({ collection: "secrets" }), everything)).toContain("not allowed");
  });
});

const DPOLICY: DynamoPolicy = {
  tables: { allow: ["orders", "audit_*"], deny: ["audit_secret"] },
  attributes: { deny: ["ssn", "card.number"] },
};

function dRefused(query: DynamoQuery, policy: DynamoPolicy = DPOLICY): string {
  const r = checkDynamoQuery(query, policy);
  if (r.ok) throw new Error(`expected a refusal for ${JSON.stringify(query)}`);
  return r.reason;
}

function dAccepted(query: DynamoQuery, policy: DynamoPolicy = DPOLICY) {
  const r = checkDynamoQuery(query, policy);
  if (!r.ok) throw new Error(`expected acceptance, got: ${r.reason}`);
  return r;
}

describe("DynamoDB policy", () => {
  test("GetItem, Query, Scan and DescribeTable pass on allowed tables; the operation is read from the request when absent", () => {
    expect(dAccepted({ table: "orders", key: { pk: "a" } }).operation).toBe("GetItem");
    expect(dAccepted({ table: "orders", key_condition: "pk = :p", values: { ":p": "a" } }).operation).toBe("Query");
    expect(dAccepted({ table: "audit_2024" }).operation).toBe("Scan");
    expect(dAccepted({ table: "orders", operation: "DescribeTable" }).tables).toEqual(["orders"]);
    dAccepted({
      table: "orders",
      operation: "Query",
      index: "by_status",
      key_condition: "#s = :s AND begins_with(sk, :p)",
      filter: "size(tags) > :n AND attribute_exists(items[0].sku) AND NOT contains(#t, :x)",
      names: { "#s": "status", "#t": "title" },
      values: { ":s": "open", ":p": "2024", ":n": 1, ":x": "y" },
      limit: 10,
    });
  });

  test("every other operation is refused: writes, PartiQL, transactions, batch reads", () => {
    for (const op of [
      "PutItem",
      "UpdateItem",
      "DeleteItem",
      "BatchWriteItem",
      "BatchGetItem",
      "ExecuteStatement",
      "PartiQL",
      "TransactGetItems",
      "TransactWriteItems",
      "CreateTable",
      "DeleteTable",
      "ListTables",
      "getitem",
    ])
      expect(dRefused({ table: "orders", operation: op } as never)).toContain(`operation "${op}" is not allowed`);
  });

  test("tables: nothing without an allow list, deny over allow, prefixes, valid names only", () => {
    expect(dRefused({ table: "orders" }, {})).toContain('table "orders" is not allowed');
    expect(dRefused({ table: "audit_secret" })).toContain("not allowed");
    expect(dRefused({ table: "payments" })).toContain("not allowed");
    expect(dRefused({ table: "ab" })).toContain("valid table name");
    expect(dRefused({ table: "orders; drop" })).toContain("valid table name");
  });

  test("a denied attribute in a key, key condition, filter or name placeholder is refused in both modes", () => {
    const mask: DynamoPolicy = { ...DPOLICY, attributes: { deny: ["ssn", "card.number"], on_denied: "mask" } };
    for (const policy of [DPOLICY, mask]) {
      expect(dRefused({ table: "orders", key: { ssn: "1" } }, policy)).toContain('attribute "ssn" is denied');
      expect(dRefused({ table: "orders", filter: "ssn = :v", values: { ":v": "1" } }, policy)).toContain('"ssn"');
      expect(
        dRefused({ table: "orders", filter: "begins_with(card.number, :v)", values: { ":v": "4" } }, policy),
      ).toContain('"card.number"');
      expect(dRefused({ table: "orders", filter: "attribute_exists(card)" }, policy)).toContain('"card.number"');
      expect(
        dRefused({ table: "orders", filter: "#x = :v", names: { "#x": "ssn" }, values: { ":v": "1" } }, policy),
      ).toContain('"ssn"');
      expect(
        dRefused(
          { table: "orders", key_condition: "pk = :p AND #a.#b = :v", names: { "#a": "card", "#b": "number" } },
          policy,
        ),
      ).toContain("card.number");
    }
    expect(
      dAccepted({ table: "orders", filter: "card.brand = :b", values: { ":b": "visa" } }, mask).forcedMask,
    ).toEqual(["ssn"]);
    expect(dAccepted({ table: "orders" }).forcedMask).toEqual([]);
  });

  test("malformed expressions and requests are refused, never guessed at", () => {
    expect(dRefused({ table: "orders", filter: "a = :v; DROP" })).toContain("unexpected character");
    expect(dRefused({ table: "orders", filter: "a = 'x'" })).toContain("unexpected character");
    expect(dRefused({ table: "orders", filter: "exec(a)" })).toContain('function "exec" is not recognized');
    expect(dRefused({ table: "orders", filter: "#n = :v" })).toContain("#n is used but not defined");
    expect(dRefused({ table: "orders", filter: "a[x] = :v" })).toContain("malformed list index");
    expect(dRefused({ table: "orders", operation: "Query" })).toContain("needs a key_condition");
    expect(dRefused({ table: "orders", operation: "GetItem" })).toContain("needs a key");
    expect(dRefused({ table: "orders", operation: "Scan", key: { a: 1 } })).toContain('"key" is not accepted');
    expect(dRefused({ table: "orders", operation: "DescribeTable", filter: "a = :v" })).toContain(
      '"filter" is not accepted',
    );
    expect(dRefused({ table: "orders", names: { x: "a" } })).toContain("names entry");
    expect(dRefused({ table: "orders", values: { v: 1 } })).toContain("values entry");
    expect(dRefused({ table: "orders", limit: 0 })).toContain("limit");
    expect(dRefused({ table: "orders", index: "bad index" })).toContain("index");
  });

  test("normalization drops values and keeps the expressions' shape", () => {
    const a = dAccepted({ table: "orders", key: { pk: "customer-secret-42" } });
    expect(a.normalized).not.toContain("customer-secret-42");
    const b = dAccepted({ table: "orders", filter: "st = :s", values: { ":s": "hunter2" } });
    expect(b.normalized).not.toContain("hunter2");
    expect(b.normalized).toContain("st = :s");
    expect(dAccepted({ table: "orders", filter: "st  =  :s", values: { ":s": "x" } }).fingerprint).toBe(b.fingerprint);
  });

  test("the policy file: max_pages bounds, unknown settings and bad names are errors naming the setting", () => {
    expect(validateDynamoPolicy({ tables: { allow: ["orders", "audit_*"] }, max_pages: 3 })).toEqual({
      tables: { allow: ["orders", "audit_*"] },
      max_pages: 3,
    });
    expect(() => validateDynamoPolicy({ max_pages: 0 })).toThrow("policy.max_pages");
    expect(() => validateDynamoPolicy({ max_pages: 1.5 })).toThrow("policy.max_pages");
    expect(() => validateDynamoPolicy({ tabels: {} })).toThrow("policy.tabels: unknown setting");
    expect(() => validateDynamoPolicy({ tables: { allow: ["x y"] } })).toThrow("policy.tables.allow[0]");
    expect(() => validateDynamoPolicy({ attributes: { on_denied: "drop" } })).toThrow("policy.attributes.on_denied");
  });
});
