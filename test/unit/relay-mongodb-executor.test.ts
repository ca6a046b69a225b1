// The relay's MongoDB executor without a MongoDB server (none can run on this machine): the conversion of real
// BSON values from the driver's own classes, the shaping of documents into rows under the caps, the driver
// calls it would make (with denied fields removed server-side), its start-up privilege warnings, its error
// messages, that a refused query never opens a connection, and that an unreachable server is reported without
// the password. No query is run against MongoDB here.
import { afterAll, describe, expect, test } from "bun:test";
import { createServer, type AddressInfo, type Server } from "node:net";
import {
  Binary,
  BSONRegExp,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  MongoServerError,
  MongoServerSelectionError,
  ObjectId,
  Timestamp,
  UUID,
} from "mongodb";
import { createMongoExecutor, refusalFor, scrub, urlSecrets } from "../../src/relay/executors/mongodb.ts";
import { DocumentCollector, fetchLimit, shapeDocuments } from "../../src/relay/executors/documents.ts";
import {
  cleanPipeline,
  decodeExtendedJson,
  findProjection,
  planMongoQuery,
} from "../../src/relay/executors/mongodb-plan.ts";
import { privilegeWarnings } from "../../src/relay/executors/mongodb-privileges.ts";
import { toJsonSafe } from "../../src/relay/executors/mongodb-shape.ts";
import type { MongoPolicy } from "../../src/relay/policy/mongo.ts";
import { type MongoQuery, type QueryLimits, RelayRefusal } from "../../src/relay/types.ts";

const LIMITS: QueryLimits = { timeoutMs: 5000, maxRows: 100, maxBytes: 1_000_000 };
const POLICY: MongoPolicy = {
  collections: { allow: ["orders", "customers"] },
  fields: { deny: ["ssn", "card.number"] },
};
const PASSWORD = "Sup3r-S3cret/pw";
const servers: Server[] = [];

afterAll(async () => {
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
});

describe("BSON values as JSON-safe values", () => {
  test("ObjectId, Date, Long, Decimal128, Binary and the rest keep their information", () => {
    const id = new ObjectId("65a1b2c3d4e5f60718293a4b");
    const doc = {
      _id: id,
      at: new Date("2026-12-07T10:00:00.000Z"),
      big: Long.fromString("9223372036854775807"),
      small: Long.fromNumber(5),
      price: Decimal128.fromString("12345678901234567890.123456789"),
      raw: new Binary(Buffer.from([0, 1, 2, 250])),
      uuid: new UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
      i: new Int32(7),
      d: new Double(1.5),
      ts: new Timestamp({ t: 1700000000, i: 3 }),
      re: new BSONRegExp("^ab", "i"),
      js: /^x/g,
      lo: new MinKey(),
      hi: new MaxKey(),
      code: new Code("function () { return 1; }"),
      ref: new DBRef("customers", id),
      nan: Number.NaN,
      nested: { when: new Date(0), ids: [id, null, { deep: Long.fromString("-42") }] },
    };
    expect(toJsonSafe(doc)).toEqual({
      _id: "65a1b2c3d4e5f60718293a4b",
      at: "2026-12-07T10:00:00.000Z",
      big: "9223372036854775807",
      small: "5",
      price: "12345678901234567890.123456789",
      raw: "AAEC+g==",
      uuid: Buffer.from("0f8fad5bd9cb469fa16570867728950e", "hex").toString("base64"),
      i: 7,
      d: 1.5,
      ts: { t: 1700000000, i: 3 },
      re: "/^ab/i",
      js: "/^x/g",
      lo: "MinKey",
      hi: "MaxKey",
      code: "function () { return 1; }",
      ref: { $ref: "customers", $id: "65a1b2c3d4e5f60718293a4b" },
      nan: "NaN",
      nested: { when: "1970-01-01T00:00:00.000Z", ids: ["65a1b2c3d4e5f60718293a4b", null, { deep: "-42" }] },
    });
    expect(JSON.parse(JSON.stringify(toJsonSafe(doc)))).toEqual(toJsonSafe(doc) as object);
  });
});

describe("documents as rows", () => {
  test("columns are the union of top-level keys in first-seen order; a missing key is null", () => {
    const r = shapeDocuments(
      [
        { _id: 1, a: "x" },
        { _id: 2, b: { c: [1, 2] } },
        { a: "z", _id: 3 },
      ],
      LIMITS,
    );
    expect(r.columns).toEqual(["_id", "a", "b"]);
    expect(r.rows).toEqual([
      [1, "x", null],
      [2, null, { c: [1, 2] }],
      [3, "z", null],
    ]);
    expect(r.truncated).toBe(false);
  });

  test("the row cap and the byte cap stop the collector and mark the result truncated", () => {
    const docs = Array.from({ length: 10 }, (_, i) => ({ i, pad: "x".repeat(100) }));
    const byRows = shapeDocuments(docs, { ...LIMITS, maxRows: 4 });
    expect(byRows.rows).toHaveLength(4);
    expect(byRows.truncated).toBe(true);
    expect(shapeDocuments(docs.slice(0, 4), { ...LIMITS, maxRows: 4 }).truncated).toBe(false);
    const byBytes = shapeDocuments(docs, { ...LIMITS, maxBytes: 300 });
    expect(byBytes.rows).toHaveLength(2);
    expect(byBytes.truncated).toBe(true);
  });

  test("denied fields are removed at any depth (also from joined documents), and a forced-mask column is kept empty", () => {
    const c = new DocumentCollector(LIMITS, ["ssn", "card.number"], toJsonSafe);
    c.add({
      _id: new ObjectId("65a1b2c3d4e5f60718293a4b"),
      ssn: "123-45-6789",
      card: { number: "4111", brand: "visa" },
      joined: [{ ssn: "987", card: { number: "5500" } }],
    });
    const r = c.finish(["ssn"]);
    expect(r.columns).toEqual(["_id", "card", "joined", "ssn"]);
    expect(r.rows).toEqual([["65a1b2c3d4e5f60718293a4b", { brand: "visa" }, [{ card: {} }], null]]);
  });

  test('a stored key named "__proto__" stays data', () => {
    const stored = JSON.parse('{"_id": 1, "__proto__": {"polluted": true}}');
    const r = shapeDocuments([stored], LIMITS, [], toJsonSafe);
    expect(r.columns).toEqual(["_id", "__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("Extended JSON in a request", () => {
  test("$oid, $date and $numberDecimal become BSON values before the policy sees them; $code becomes Code and is refused", () => {
    const q = decodeExtendedJson({
      collection: "orders",
      filter: { _id: { $oid: "65a1b2c3d4e5f60718293a4b" }, at: { $gte: { $date: "2026-01-01T00:00:00Z" } } },
      pipeline: [{ $match: { price: { $numberDecimal: "1.5" }, n: 3 } }],
    });
    const filter = q.filter as { _id: unknown; at: { $gte: unknown } };
    const match = q.pipeline?.[0]?.$match as { price: unknown; n: unknown };
    expect(filter._id).toBeInstanceOf(ObjectId);
    expect(filter.at.$gte).toEqual(new Date("2026-01-01T00:00:00Z"));
    expect(match.price).toBeInstanceOf(Decimal128);
    expect(match.n).toBe(3);
    expect(
      decodeExtendedJson({ collection: "orders", filter: { a: { $code: "function () {}" } } }).filter?.a,
    ).toBeInstanceOf(Code);
    expect(() => decodeExtendedJson({ collection: "orders", filter: { _id: { $oid: "not-hex" } } })).toThrow(
      "Extended JSON is malformed",
    );
  });
});

describe("the driver calls", () => {
  test("one more row than the cap is asked for, unless the request asks for fewer", () => {
    expect(fetchLimit(undefined, 100)).toBe(101);
    expect(fetchLimit(10, 100)).toBe(10);
    expect(fetchLimit(0, 100)).toBe(101);
    expect(fetchLimit(5000, 100)).toBe(101);
  });

  test("an aggregate removes denied fields first, inside every join's sub-pipeline too, and ends with the limit", () => {
    const q: MongoQuery = {
      collection: "orders",
      operation: "aggregate",
      pipeline: [
        { $lookup: { from: "customers", localField: "c", foreignField: "_id", as: "cust" } },
        { $unionWith: "customers" },
        { $facet: { x: [{ $lookup: { from: "customers", pipeline: [{ $match: { a: 1 } }], as: "y" } }] } },
      ],
    };
    const plan = planMongoQuery(q, POLICY, LIMITS);
    const unset = { $unset: ["ssn", "card.number"] };
    expect(plan).toEqual({
      op: "aggregate",
      pipeline: [
        unset,
        { $lookup: { from: "customers", localField: "c", foreignField: "_id", as: "cust", pipeline: [unset] } },
        { $unionWith: { coll: "customers", pipeline: [unset] } },
        { $facet: { x: [{ $lookup: { from: "customers", as: "y", pipeline: [unset, { $match: { a: 1 } }] } }] } },
        { $limit: 101 },
      ],
    });
    expect(cleanPipeline([{ $match: {} }], [])).toEqual([{ $match: {} }]);
  });

  test("a find excludes denied fields, or drops them from an inclusion projection", () => {
    expect(findProjection(undefined, ["ssn", "card.number"])).toEqual({ ssn: 0, "card.number": 0 });
    expect(findProjection({ notes: 0 }, ["ssn"])).toEqual({ notes: 0, ssn: 0 });
    expect(findProjection({ status: 1, ssn: 1, "card.number": 1 }, ["ssn", "card.number"])).toEqual({ status: 1 });
    expect(findProjection({ card: 1 }, ["card.number"])).toEqual({ card: 1 });
    expect(findProjection({ ssn: 1 }, ["ssn"])).toEqual({ ssn: 0 });
    expect(findProjection({ a: 1 }, [])).toEqual({ a: 1 });
    const plan = planMongoQuery({ collection: "orders", filter: { a: 1 }, sort: { a: -1 }, limit: 3 }, POLICY, LIMITS);
    expect(plan).toEqual({
      op: "find",
      filter: { a: 1 },
      projection: { ssn: 0, "card.number": 0 },
      sort: { a: -1 },
      limit: 3,
    });
  });

  test("count and distinct pass their filter through", () => {
    expect(
      planMongoQuery({ collection: "orders", operation: "countDocuments", filter: { a: 1 }, limit: 9 }, POLICY, LIMITS),
    ).toEqual({ op: "countDocuments", filter: { a: 1 }, limit: 9 });
    expect(planMongoQuery({ collection: "orders", operation: "distinct", field: "status" }, POLICY, LIMITS)).toEqual({
      op: "distinct",
      field: "status",
      filter: {},
    });
  });
});

describe("start-up privilege warnings (from connectionStatus with showPrivileges)", () => {
  const status = (roles: string[], actions: string[] = ["find", "listCollections"]) => ({
    authInfo: {
      authenticatedUsers: [{ user: "relay", db: "admin" }],
      authenticatedUserRoles: roles.map((role) => ({ role, db: "app" })),
      authenticatedUserPrivileges: [{ resource: { db: "app", collection: "" }, actions }],
    },
  });

  test("a read-only user gets no warning; write roles or actions, or no user at all, get one", () => {
    expect(privilegeWarnings(status(["read"]), "prod")).toEqual([]);
    expect(privilegeWarnings(status(["readWrite"], ["find", "insert", "update"]), "prod")[0]).toContain(
      "roles readWrite@app; actions insert, update",
    );
    expect(privilegeWarnings(status(["custom"], ["find", "remove"]), "prod")[0]).toContain("actions remove");
    expect(privilegeWarnings({ authInfo: { authenticatedUsers: [] } }, "prod")[0]).toContain("without a user");
  });
});

describe("errors", () => {
  test("credentials in a connection string never reach a message", () => {
    const url = `mongodb://relay:${encodeURIComponent(PASSWORD)}@db1:27017,db2:27017/app`;
    const secrets = urlSecrets(url);
    expect(secrets).toContain(PASSWORD);
    const text = scrub(`failed to connect to ${url} as relay with ${PASSWORD}`, secrets);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(encodeURIComponent(PASSWORD));
    expect(text).toContain("mongodb://***@db1");
  });

  test("a time limit, an unreachable server and anything else map to timeout, unavailable and database", () => {
    const timeout = new MongoServerError({
      message: "operation exceeded time limit",
      code: 50,
      codeName: "MaxTimeMSExpired",
    });
    expect(refusalFor(timeout, "prod", []).code).toBe("timeout");
    const down = new MongoServerSelectionError(`connect ECONNREFUSED (mongodb://relay:${PASSWORD}@db1)`, {
      type: "Unknown",
      servers: new Map(),
    } as never);
    const r = refusalFor(down, "prod", [PASSWORD]);
    expect(r.code).toBe("unavailable");
    expect(r.reason).not.toContain(PASSWORD);
    expect(refusalFor(new MongoServerError({ message: "bad query", code: 2 }), "prod", []).reason).toBe(
      'MongoDB "prod": bad query',
    );
  });
});

describe("the executor without a server", () => {
  test("a query the policy refuses is refused without opening a connection", async () => {
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    servers.push(listener);
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as AddressInfo).port;
    const ex = createMongoExecutor({ name: "prod", url: `mongodb://relay:pw@127.0.0.1:${port}/app`, policy: POLICY });
    const queries: MongoQuery[] = [
      { collection: "payments" },
      { collection: "orders", operation: "insertOne" } as unknown as MongoQuery,
      { collection: "orders", operation: "aggregate", pipeline: [{ $out: "copy" }] },
      { collection: "orders", filter: { ssn: "123" } },
      { collection: "orders", filter: { a: { $code: "function () { return true; }" } } },
    ];
    for (const q of queries) {
      const e = await ex.run(q, LIMITS).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(RelayRefusal);
      expect((e as RelayRefusal).code).toBe("policy");
    }
    const malformed = await ex
      .run({ collection: "orders", filter: { _id: { $oid: "zz" } } }, LIMITS)
      .catch((err: unknown) => err);
    expect((malformed as RelayRefusal).code).toBe("invalid");
    await ex.close();
    expect(connections).toBe(0);
  });

  test("check() against a closed port fails clearly, without the password", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const ex = createMongoExecutor({
      name: "prod",
      url: `mongodb://relay:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app?authSource=admin`,
      policy: POLICY,
    });
    const e = await ex.check().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(RelayRefusal);
    const r = e as RelayRefusal;
    expect(r.code).toBe("unavailable");
    expect(r.reason).toStartWith('MongoDB "prod" is unreachable');
    expect(r.reason).toContain("ECONNREFUSED");
    expect(r.reason).not.toContain(PASSWORD);
    expect(r.reason).not.toContain(encodeURIComponent(PASSWORD));
    await ex.close();
  });
});
