// The relay's DynamoDB executor against dynalite (a DynamoDB-compatible server, run in-process): GetItem, Query,
// Scan and DescribeTable through the real AWS SDK, the item, byte and page caps, the policy's refusals, and the
// AssumeRole step up to the edge of this machine (no AWS here): the real STS client builds and signs the
// AssumeRole request, a recording request handler captures it and answers with STS's own error or a canned
// response document; nothing checks the signature or the role's trust policy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AddressInfo, Server } from "node:net";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, NumberValue, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { STSClientConfig } from "@aws-sdk/client-sts";
import {
  createDynamoExecutor,
  type DynamoDatabaseConfig,
  type DynamoDeps,
} from "../../src/relay/executors/dynamodb.ts";
import type { DynamoPolicy } from "../../src/relay/policy/dynamo.ts";
import { type DynamoQuery, type Executor, type QueryLimits, RelayRefusal } from "../../src/relay/types.ts";

// dynalite ships no types; this is the one call the suite makes.
const dynalite = createRequire(import.meta.url)("dynalite") as (opts: { createTableMs: number }) => Server;

const KEY_ID = "AKIARELAYTESTKEY0001";
const SECRET_KEY = "relay-test-secret-never-printed";
const LIMITS: QueryLimits = { timeoutMs: 10_000, maxRows: 100, maxBytes: 1_000_000 };
const POLICY: DynamoPolicy = {
  tables: { allow: ["orders", "audit_*", "secrets_tbl", "bulk_items"], deny: ["secrets_tbl"] },
  attributes: { deny: ["ssn", "card.number"] },
};

let server: Server;
const opened: Executor[] = [];

function make(db: DynamoDatabaseConfig, deps?: DynamoDeps): Executor {
  const ex = createDynamoExecutor(db, deps);
  opened.push(ex);
  return ex;
}

let endpoint: string;

function config(over: Partial<DynamoDatabaseConfig> = {}): DynamoDatabaseConfig {
  return { name: "orders-db", region: "us-east-1", endpoint, policy: POLICY, ...over };
}

async function refusal(p: Promise<unknown>): Promise<RelayRefusal> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RelayRefusal);
  return e as RelayRefusal;
}

const ENV_KEYS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"] as const;
const envBefore = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

beforeAll(async () => {
  // The relay's own credentials (the default provider chain reads them from the environment).
  process.env.AWS_ACCESS_KEY_ID = KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = SECRET_KEY;
  process.env.AWS_EC2_METADATA_DISABLED = "true";
  server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ region: "us-east-1", endpoint });
  const doc = DynamoDBDocumentClient.from(raw);
  const table = (name: string, keys: [string, "S" | "N"][]) =>
    raw.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: keys.map(([n, t]) => ({ AttributeName: n, AttributeType: t })),
        KeySchema: keys.map(([n], i) => ({ AttributeName: n, KeyType: i === 0 ? "HASH" : "RANGE" })),
      }),
    );
  await table("orders", [
    ["customer", "S"],
    ["order_id", "N"],
  ]);
  await table("secrets_tbl", [["id", "S"]]);
  await table("bulk_items", [["id", "S"]]);
  for (let i = 1; i <= 30; i++) {
    await doc.send(
      new PutCommand({
        TableName: "orders",
        Item: {
          customer: i <= 20 ? "c1" : "c2",
          order_id: i,
          status: i % 2 === 0 ? "paid" : "open",
          total: i * 1.5,
          ssn: `123-45-${String(1000 + i)}`,
          card: { number: `4111111111111${String(100 + i)}`, brand: "visa" },
          tags: new Set(["a", "b"]),
          big: NumberValue.from("9007199254740993"),
          blob: new Uint8Array([1, 2, 3]),
        },
      }),
    );
  }
  // 40 items of 60 KB: DynamoDB (and dynalite) return at most 1 MB a page, so a Scan takes three pages.
  for (let batch = 0; batch < 40; batch += 20) {
    const items = Array.from({ length: 20 }, (_, j) => ({ id: `item-${batch + j}`, pad: "x".repeat(60_000) }));
    await doc.send(
      new BatchWriteCommand({ RequestItems: { bulk_items: items.map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
  raw.destroy();
});

afterAll(async () => {
  for (const ex of opened) await ex.close();
  for (const k of ENV_KEYS) {
    const v = envBefore[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("reading DynamoDB through the relay [dynalite]", () => {
  test("check() describes every table the policy names, and names a table that is missing", async () => {
    const ex = make(config());
    expect(await ex.check()).toEqual([]);
    const missing = make(config({ policy: { tables: { allow: ["orders", "no_such_table"] } } }));
    const r = await refusal(missing.check());
    expect(r.code).toBe("database");
    expect(r.reason).toContain("ResourceNotFoundException");
    expect(r.reason).toContain('checking table "no_such_table"');
    const patterns = make(config({ policy: { tables: { allow: ["audit_*"] } } }));
    expect((await patterns.check())[0]).toContain("only by pattern");
  });

  test("GetItem returns one row: sets as arrays, unsafe numbers as exact text, binary as base64, denied attributes removed", async () => {
    const ex = make(config());
    const r = await ex.run({ table: "orders", operation: "GetItem", key: { customer: "c1", order_id: 4 } }, LIMITS);
    expect(r.rows).toHaveLength(1);
    const row = Object.fromEntries(r.columns.map((c, i) => [c, r.rows[0]?.[i]]));
    expect(row).toMatchObject({
      customer: "c1",
      order_id: 4,
      status: "paid",
      total: 6,
      big: "9007199254740993",
      blob: "AQID",
    });
    expect((row.tags as string[]).sort()).toEqual(["a", "b"]);
    expect(row.card).toEqual({ brand: "visa" });
    expect(r.columns).not.toContain("ssn");
    expect(JSON.stringify(r.rows)).not.toContain("123-45-");
    expect(r.tables).toEqual(["orders"]);
    expect(r.forcedMask).toBeUndefined();
  });

  test("in mask mode a denied attribute stays a column, empty and listed for forced masking", async () => {
    const ex = make(config({ policy: { ...POLICY, attributes: { deny: ["ssn"], on_denied: "mask" } } }));
    const r = await ex.run({ table: "orders", key: { customer: "c1", order_id: 4 } }, LIMITS);
    expect(r.forcedMask).toEqual(["ssn"]);
    expect(r.rows[0]?.[r.columns.indexOf("ssn")]).toBeNull();
    expect(JSON.stringify(r.rows)).not.toContain("123-45-");
  });

  test("Query with a key condition, #names, a filter and values; the normalized text keeps no value", async () => {
    const ex = make(config());
    const q: DynamoQuery = {
      table: "orders",
      operation: "Query",
      key_condition: "customer = :c AND order_id > :n",
      filter: "#s = :s",
      names: { "#s": "status" },
      values: { ":c": "c1", ":n": 10, ":s": "paid" },
    };
    const r = await ex.run(q, LIMITS);
    const ids = r.rows.map((row) => row[r.columns.indexOf("order_id")]);
    expect(ids).toEqual([12, 14, 16, 18, 20]);
    expect(r.truncated).toBe(false);
    expect(r.normalized).not.toContain("c1");
    expect(r.normalized).not.toContain("paid");
    expect(r.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const again = await ex.run({ ...q, values: { ":c": "c2", ":n": 0, ":s": "open" } }, LIMITS);
    expect(again.fingerprint).toBe(r.fingerprint);
  });

  test("Scan honours the request's limit without calling it truncated, and the row cap with it", async () => {
    const ex = make(config());
    const limited = await ex.run({ table: "orders", operation: "Scan", limit: 7 }, LIMITS);
    expect(limited.rows).toHaveLength(7);
    expect(limited.truncated).toBe(false);
    const capped = await ex.run({ table: "orders", operation: "Scan" }, { ...LIMITS, maxRows: 5 });
    expect(capped.rows).toHaveLength(5);
    expect(capped.truncated).toBe(true);
    const all = await ex.run({ table: "orders", operation: "Scan", filter: "attribute_exists(customer)" }, LIMITS);
    expect(all.rows).toHaveLength(30);
    expect(all.truncated).toBe(false);
  });

  test("the byte cap stops reading and marks the result truncated", async () => {
    const ex = make(config());
    const r = await ex.run({ table: "orders", operation: "Scan" }, { ...LIMITS, maxBytes: 1500 });
    expect(r.truncated).toBe(true);
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.rows.length).toBeLessThan(30);
  });

  test("the page cap stops a Scan after max_pages pages of 1 MB and marks it truncated", async () => {
    const all = await make(config()).run(
      { table: "bulk_items", filter: "attribute_exists(id)" },
      { ...LIMITS, maxBytes: 10_000_000 },
    );
    expect(all.rows).toHaveLength(40);
    expect(all.truncated).toBe(false);
    const ex = make(config({ policy: { ...POLICY, max_pages: 1 } }));
    const r = await ex.run(
      { table: "bulk_items", filter: "attribute_exists(id)" },
      { ...LIMITS, maxBytes: 10_000_000 },
    );
    expect(r.truncated).toBe(true);
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.rows.length).toBeLessThan(40);
  });

  test("DescribeTable returns the table's shape as one row", async () => {
    const r = await make(config()).run({ table: "orders", operation: "DescribeTable" }, LIMITS);
    const row = Object.fromEntries(r.columns.map((c, i) => [c, r.rows[0]?.[i]]));
    expect(row).toMatchObject({ table: "orders", status: "ACTIVE", key_schema: ["customer HASH", "order_id RANGE"] });
  });

  test("writes, PartiQL, denied tables and denied attributes are refused by policy", async () => {
    const ex = make(config());
    const cases: [DynamoQuery, string][] = [
      [{ table: "orders", operation: "PutItem" } as unknown as DynamoQuery, "not allowed"],
      [{ table: "orders", operation: "ExecuteStatement" } as unknown as DynamoQuery, "not allowed"],
      [{ table: "secrets_tbl", operation: "Scan" }, 'table "secrets_tbl" is not allowed'],
      [{ table: "payments", operation: "Scan" }, 'table "payments" is not allowed'],
      [{ table: "orders", operation: "Scan", filter: "ssn = :v", values: { ":v": "1" } }, 'attribute "ssn" is denied'],
      [
        {
          table: "orders",
          operation: "Scan",
          filter: "#c.#n = :v",
          names: { "#c": "card", "#n": "number" },
          values: { ":v": "1" },
        },
        "denied",
      ],
    ];
    for (const [q, reason] of cases) {
      const r = await refusal(ex.run(q, LIMITS));
      expect(r.code).toBe("policy");
      expect(r.reason).toContain(reason);
    }
  });

  test("a database error carries the AWS error's name and message", async () => {
    const ex = make(config());
    const r = await refusal(
      ex.run(
        {
          table: "orders",
          operation: "Query",
          key_condition: "customer = :c",
          index: "no_such_index",
          values: { ":c": "c1" },
        },
        LIMITS,
      ),
    );
    expect(r.code).toBe("database");
    expect(r.reason).toMatch(/ValidationException|ResourceNotFoundException/);
    const gone = await refusal(ex.run({ table: "audit_2019", operation: "Scan" }, LIMITS));
    expect(gone.reason).toContain("ResourceNotFoundException");
  });

  test("a request past its time limit is aborted and reported as a timeout", async () => {
    const r = await refusal(
      make(config()).run({ table: "bulk_items", operation: "Scan" }, { ...LIMITS, timeoutMs: 1 }),
    );
    expect(r.code).toBe("timeout");
  });

  test("a number JSON could not carry exactly is refused before anything is sent", async () => {
    const q: DynamoQuery = { table: "orders", operation: "Scan", filter: "total = :t", values: { ":t": 2 ** 60 } };
    const r = await refusal(make(config()).run(q, LIMITS));
    expect(r.code).toBe("invalid");
    expect(r.reason).toContain("MAX_SAFE_INTEGER");
  });

  test("without a role and without credentials of its own, the relay says it has no AWS credentials", async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/credentials";
    process.env.AWS_CONFIG_FILE = "/nonexistent/config";
    try {
      const r = await refusal(make(config()).run({ table: "orders", operation: "Scan" }, LIMITS));
      expect(r.code).toBe("unavailable");
      expect(r.reason).toContain("no AWS credentials for the relay");
    } finally {
      process.env.AWS_ACCESS_KEY_ID = KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = SECRET_KEY;
      delete process.env.AWS_SHARED_CREDENTIALS_FILE;
      delete process.env.AWS_CONFIG_FILE;
    }
  });

  test("an unreachable endpoint is reported as unavailable", async () => {
    const ex = make(config({ endpoint: "http://127.0.0.1:1" }));
    const r = await refusal(ex.run({ table: "orders", operation: "Scan" }, LIMITS));
    expect(r.code).toBe("unavailable");
    expect(r.reason).not.toContain(SECRET_KEY);
  });
});

// --- AssumeRole, as far as this machine allows -------------------------------------------------------------
// There is no AWS here. The executor's STS client is real (it serializes and SigV4-signs AssumeRole with the
// relay's own key); its request handler records each request and answers with a response document: STS's
// AccessDenied error, or a canned AssumeRole result with made-up temporary credentials. dynalite accepts any
// signature, so the assumed credentials are not verified by anything.

const ROLE_ARN = "arn:aws:iam::123456789012:role/causeloop-read";
const EXTERNAL_ID = "ext-7f3a9c";
const STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/";

interface RecordedRequest {
  hostname: string;
  headers: Record<string, string>;
  params: URLSearchParams;
}

function recordingSts(answer: () => { status: number; xml: string }) {
  const requests: RecordedRequest[] = [];
  const handler = {
    async handle(request: { hostname: string; headers: Record<string, string>; body?: unknown }) {
      requests.push({
        hostname: request.hostname,
        headers: request.headers,
        params: new URLSearchParams(String(request.body)),
      });
      const { status, xml } = answer();
      return {
        response: {
          statusCode: status,
          headers: { "content-type": "text/xml" },
          body: Readable.from([Buffer.from(xml)]),
        },
      };
    },
  };
  return { requests, handler: handler as NonNullable<STSClientConfig["requestHandler"]> };
}

const accessDenied = () => ({
  status: 403,
  xml: `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::999999999999:user/relay is not authorized to perform: sts:AssumeRole on resource: ${ROLE_ARN}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
});

const assumed = (expiresInMs: number) => () => ({
  status: 200,
  xml: `<AssumeRoleResponse xmlns="${STS_NS}"><AssumeRoleResult><Credentials><AccessKeyId>ASIATEMPORARYKEY0001</AccessKeyId><SecretAccessKey>temporary-secret</SecretAccessKey><SessionToken>temporary-token</SessionToken><Expiration>${new Date(Date.now() + expiresInMs).toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:causeloop-relay-orders-db</AssumedRoleId><Arn>${ROLE_ARN}/causeloop-relay-orders-db</Arn></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleResponse>`,
});

describe("credentials from an assumed role [recorded STS requests, no AWS]", () => {
  const getItem: DynamoQuery = { table: "orders", operation: "GetItem", key: { customer: "c1", order_id: 1 } };

  test("before reading, the executor asks STS for the role with the external id, its session name and 15 minutes, signed with the relay's own key", async () => {
    const sts = recordingSts(accessDenied);
    const ex = make(config({ role_arn: ROLE_ARN, external_id: EXTERNAL_ID }), {
      stsRequestHandler: sts.handler,
    });
    const r = await refusal(ex.run(getItem, LIMITS));
    expect(sts.requests).toHaveLength(1);
    const [req] = sts.requests;
    expect(req?.hostname).toBe("sts.us-east-1.amazonaws.com");
    expect(Object.fromEntries(req?.params ?? [])).toEqual({
      Action: "AssumeRole",
      Version: "2011-06-15",
      RoleArn: ROLE_ARN,
      ExternalId: EXTERNAL_ID,
      RoleSessionName: "causeloop-relay-orders-db",
      DurationSeconds: "900",
    });
    expect(req?.headers.authorization).toContain(`Credential=${KEY_ID}/`);
    expect(req?.headers.authorization).toContain("/us-east-1/sts/aws4_request");
    expect(r.code).toBe("unavailable");
    expect(r.reason).toContain(`could not assume role ${ROLE_ARN}: AccessDenied`);
    expect(r.reason).not.toContain(SECRET_KEY);
    const atStart = await refusal(ex.check());
    expect(atStart.reason).toContain(`could not assume role ${ROLE_ARN}`);
  });

  test("the STS endpoint can be the client's own (a VPC endpoint)", async () => {
    const sts = recordingSts(accessDenied);
    const ex = make(config({ role_arn: ROLE_ARN }), {
      stsEndpoint: "https://vpce-0abc.sts.us-east-1.vpce.amazonaws.com",
      stsRequestHandler: sts.handler,
    });
    await refusal(ex.run(getItem, LIMITS));
    expect(sts.requests[0]?.hostname).toBe("vpce-0abc.sts.us-east-1.vpce.amazonaws.com");
    expect(sts.requests[0]?.params.has("ExternalId")).toBe(false);
  });

  test("assumed credentials are reused while they last, and assumed again when less than five minutes remain", async () => {
    const lasting = recordingSts(assumed(60 * 60_000));
    const ex = make(config({ role_arn: ROLE_ARN, external_id: EXTERNAL_ID }), {
      stsRequestHandler: lasting.handler,
    });
    expect((await ex.run(getItem, LIMITS)).rows).toHaveLength(1);
    expect((await ex.run(getItem, LIMITS)).rows).toHaveLength(1);
    expect(lasting.requests).toHaveLength(1);
    const expiring = recordingSts(assumed(4 * 60_000));
    const soon = make(config({ role_arn: ROLE_ARN, external_id: EXTERNAL_ID }), {
      stsRequestHandler: expiring.handler,
    });
    await soon.run(getItem, LIMITS);
    const afterFirst = expiring.requests.length;
    await soon.run(getItem, LIMITS);
    // Credentials this close to expiry are never trusted for another request (by the executor or the SDK).
    expect(afterFirst).toBeGreaterThanOrEqual(1);
    expect(expiring.requests.length).toBeGreaterThan(afterFirst);
  });
});
