// Runs the relay's DynamoDB requests: the policy check first, then only GetItem, Query, Scan or DescribeTable,
// under the page, item and byte caps, with credentials from an assumed role or the relay's own.
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { STSClientConfig } from "@aws-sdk/client-sts";
import { checkDynamoQuery, DEFAULT_MAX_PAGES, type DynamoPolicy } from "../policy/dynamo.ts";
import { concreteNames } from "../policy/nosql-shared.ts";
import {
  type DynamoQuery,
  type Executor,
  type QueryLimits,
  type RawResult,
  type RelayQuery,
  RelayRefusal,
} from "../types.ts";
import { assumeRoleProvider, awsErrorText } from "./dynamodb-credentials.ts";
import { describeRow, dynamoToJson } from "./dynamodb-shape.ts";
import { DocumentCollector, fetchLimit } from "./documents.ts";

export interface DynamoDatabaseConfig {
  name: string;
  region: string;
  role_arn?: string;
  external_id?: string;
  /** A DynamoDB endpoint other than the region's (a VPC endpoint, DynamoDB Local). */
  endpoint?: string;
  policy: DynamoPolicy;
}

export interface DynamoDeps {
  stsEndpoint?: string;
  /** The HTTP handler AssumeRole goes through (a proxy-aware agent). */
  stsRequestHandler?: STSClientConfig["requestHandler"];
}

const BUSY = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
]);

/** An SDK error as the refusal the person who asked sees: the AWS error's name and message, never a key. */
export function dynamoRefusal(e: unknown, dbName: string): RelayRefusal {
  if (e instanceof RelayRefusal) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  if (err.name === "AbortError" || err.name === "TimeoutError")
    return new RelayRefusal("timeout", `DynamoDB "${dbName}": the request ran past its time limit`);
  if (err.name === "CredentialsProviderError")
    return new RelayRefusal(
      "unavailable",
      `DynamoDB "${dbName}": no AWS credentials for the relay (${awsErrorText(err)})`,
    );
  const text = `DynamoDB "${dbName}": ${awsErrorText(err)}`;
  if ("$fault" in err) return new RelayRefusal(BUSY.has(err.name) ? "unavailable" : "database", text);
  // A system error (ECONNREFUSED, ENOTFOUND, ...) never reached DynamoDB; anything else failed in the SDK
  // before sending, e.g. a value it cannot marshal (a number past 2^53 that JSON already rounded).
  const system = typeof (err as { code?: unknown }).code === "string";
  return new RelayRefusal(system ? "unavailable" : "invalid", text);
}

export function createDynamoExecutor(db: DynamoDatabaseConfig, deps: DynamoDeps = {}): Executor {
  const role = db.role_arn
    ? assumeRoleProvider({
        name: db.name,
        region: db.region,
        roleArn: db.role_arn,
        ...(db.external_id ? { externalId: db.external_id } : {}),
        ...(deps.stsEndpoint ? { stsEndpoint: deps.stsEndpoint } : {}),
        ...(deps.stsRequestHandler ? { stsRequestHandler: deps.stsRequestHandler } : {}),
      })
    : undefined; // the SDK's default chain: environment, profile, container or instance role
  const client = new DynamoDBClient({
    region: db.region,
    maxAttempts: 2,
    ...(db.endpoint ? { endpoint: db.endpoint } : {}),
    ...(role ? { credentials: role.credentials } : {}),
  });
  // wrapNumbers keeps every number's exact text; dynamoToJson decides what can become a JS number.
  const doc = DynamoDBDocumentClient.from(client, { unmarshallOptions: { wrapNumbers: true } });
  const denied = db.policy.attributes?.deny ?? [];
  const maxPages = db.policy.max_pages ?? DEFAULT_MAX_PAGES;

  async function read(q: DynamoQuery, operation: string, limits: QueryLimits, abortSignal: AbortSignal) {
    const collector = new DocumentCollector(limits, denied, dynamoToJson);
    const present = new Set<string>();
    const add = (item: Record<string, unknown>): boolean => {
      for (const k of Object.keys(item)) present.add(k);
      return collector.add(item);
    };
    let pageCapped = false;
    if (operation === "DescribeTable") {
      const out = await client.send(new DescribeTableCommand({ TableName: q.table }), { abortSignal });
      collector.add(describeRow(out.Table));
    } else if (operation === "GetItem") {
      const out = await doc.send(new GetCommand({ TableName: q.table, Key: q.key }), { abortSignal });
      if (out.Item) add(out.Item);
    } else {
      const want = fetchLimit(q.limit, limits.maxRows);
      let got = 0;
      let startKey: Record<string, unknown> | undefined;
      for (let page = 1; ; page++) {
        const input = {
          TableName: q.table,
          ...(q.index ? { IndexName: q.index } : {}),
          ...(q.key_condition ? { KeyConditionExpression: q.key_condition } : {}),
          ...(q.filter ? { FilterExpression: q.filter } : {}),
          ...(q.names && Object.keys(q.names).length ? { ExpressionAttributeNames: q.names } : {}),
          ...(q.values && Object.keys(q.values).length ? { ExpressionAttributeValues: q.values } : {}),
          // Without a filter every item read is returned, so read no more than wanted; with one, read whole pages.
          ...(q.filter ? {} : { Limit: want - got }),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        };
        const out = await doc.send(operation === "Query" ? new QueryCommand(input) : new ScanCommand(input), {
          abortSignal,
        });
        let full = false;
        for (const item of out.Items ?? []) {
          got++;
          if (!add(item) || got >= want) {
            full = true;
            break;
          }
        }
        if (full || !out.LastEvaluatedKey) break;
        if (page >= maxPages) {
          pageCapped = true;
          break;
        }
        startKey = out.LastEvaluatedKey;
      }
    }
    return { collector, present, pageCapped };
  }

  return {
    kind: "dynamodb",

    async check(): Promise<string[]> {
      const warnings: string[] = [];
      const tables = concreteNames(db.policy.tables);
      if (!db.policy.tables?.allow?.length)
        warnings.push(`DynamoDB "${db.name}": the policy allows no table, so every request will be refused`);
      else if (tables.length === 0)
        warnings.push(`DynamoDB "${db.name}": the policy names tables only by pattern, so none was checked at start`);
      for (const table of tables) {
        try {
          await client.send(new DescribeTableCommand({ TableName: table }), {
            abortSignal: AbortSignal.timeout(10_000),
          });
        } catch (e) {
          const r = dynamoRefusal(e, db.name);
          throw new RelayRefusal(r.code, `${r.reason} (checking table "${table}")`);
        }
      }
      return warnings;
    },

    async run(query: RelayQuery, limits: QueryLimits): Promise<RawResult> {
      const q = query as DynamoQuery;
      const verdict = checkDynamoQuery(q, db.policy);
      if (!verdict.ok) throw new RelayRefusal("policy", verdict.reason);
      let result: Awaited<ReturnType<typeof read>>;
      try {
        result = await read(q, verdict.operation, limits, AbortSignal.timeout(limits.timeoutMs));
      } catch (e) {
        throw dynamoRefusal(e, db.name);
      }
      const forcedMask = verdict.forcedMask.filter((c) => result.present.has(c));
      const shaped = result.collector.finish(forcedMask);
      return {
        ...shaped,
        truncated: shaped.truncated || result.pageCapped,
        tables: verdict.tables,
        normalized: verdict.normalized,
        fingerprint: verdict.fingerprint,
        ...(forcedMask.length > 0 ? { forcedMask } : {}),
      };
    },

    async close(): Promise<void> {
      client.destroy();
      role?.close();
    },
  };
}
