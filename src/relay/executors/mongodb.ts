// Runs the relay's MongoDB queries: the policy check first, then only find, aggregate, countDocuments or
// distinct, under maxTimeMS and the row and byte caps, with denied fields removed before anything leaves.
import { type Db, MongoClient, type Sort } from "mongodb";
import { checkMongoQuery, type MongoPolicy } from "../policy/mongo.ts";
import {
  type Executor,
  type MongoQuery,
  type QueryLimits,
  type RawResult,
  type RelayQuery,
  RelayRefusal,
} from "../types.ts";
import { DocumentCollector } from "./documents.ts";
import { toJsonSafe } from "./mongodb-shape.ts";
import { decodeExtendedJson, planMongoQuery } from "./mongodb-plan.ts";
import { privilegeWarnings } from "./mongodb-privileges.ts";

export interface MongoDatabaseConfig {
  name: string;
  url: string;
  database?: string;
  policy: MongoPolicy;
}

/** The user name and password inside a connection string, to be kept out of every message. */
export function urlSecrets(url: string): string[] {
  const userinfo = /^[a-z+]+:\/\/([^@/]*)@/i.exec(url)?.[1];
  if (!userinfo) return [];
  const parts = userinfo.split(":").flatMap((p) => {
    try {
      return [p, decodeURIComponent(p)];
    } catch {
      return [p];
    }
  });
  return [...new Set(parts)].filter((p) => p.length >= 3);
}

/** A driver message without the connection string's credentials. */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = message.replace(/([a-z+]+:\/\/)[^@/\s]*@/gi, "$1***@");
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}

const UNAVAILABLE = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoTopologyClosedError",
  "MongoNotConnectedError",
]);

/** A driver error as the refusal the person who asked sees. */
export function refusalFor(e: unknown, dbName: string, secrets: readonly string[]): RelayRefusal {
  if (e instanceof RelayRefusal) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown; codeName?: unknown }).code;
  const codeName = (err as { codeName?: unknown }).codeName;
  const message = scrub(err.message, secrets);
  if (code === 50 || codeName === "MaxTimeMSExpired" || err.name === "MongoOperationTimeoutError")
    return new RelayRefusal("timeout", `MongoDB "${dbName}": the query ran past its time limit`);
  if (UNAVAILABLE.has(err.name))
    return new RelayRefusal("unavailable", `MongoDB "${dbName}" is unreachable: ${message}`);
  return new RelayRefusal("database", `MongoDB "${dbName}": ${message}`);
}

/** A backstop for a server that stops answering: maxTimeMS bounds the work, this bounds the wait. */
async function within<T>(ms: number, dbName: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RelayRefusal("timeout", `MongoDB "${dbName}" did not answer in time`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function createMongoExecutor(config: MongoDatabaseConfig): Executor {
  const secrets = urlSecrets(config.url);
  const denied = config.policy.fields?.deny ?? [];
  let client: MongoClient | undefined;
  let connecting: Promise<Db> | undefined;

  const database = (): Promise<Db> => {
    connecting ??= (async () => {
      try {
        client = new MongoClient(config.url, {
          appName: `causeloop-relay-${config.name}`,
          serverSelectionTimeoutMS: 5000,
          connectTimeoutMS: 5000,
        });
        await client.connect();
        return client.db(config.database);
      } catch (e) {
        connecting = undefined;
        await client?.close().catch(() => undefined);
        client = undefined;
        throw refusalFor(e, config.name, secrets);
      }
    })();
    return connecting;
  };

  async function read(db: Db, q: MongoQuery, limits: QueryLimits, collector: DocumentCollector): Promise<void> {
    const plan = planMongoQuery(q, config.policy, limits);
    const coll = db.collection(q.collection);
    const maxTimeMS = limits.timeoutMs;
    if (plan.op === "countDocuments") {
      collector.add({
        count: await coll.countDocuments(plan.filter, { maxTimeMS, ...(plan.limit ? { limit: plan.limit } : {}) }),
      });
      return;
    }
    if (plan.op === "distinct") {
      for (const v of await coll.distinct(plan.field, plan.filter, { maxTimeMS }))
        if (!collector.add({ [plan.field]: v })) break;
      return;
    }
    const cursor =
      plan.op === "find"
        ? coll.find(plan.filter, {
            projection: plan.projection,
            sort: plan.sort as Sort | undefined,
            limit: plan.limit,
            maxTimeMS,
          })
        : coll.aggregate(plan.pipeline, { maxTimeMS, allowDiskUse: false });
    try {
      for await (const doc of cursor) if (!collector.add(doc)) break;
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  return {
    kind: "mongodb",

    async check(): Promise<string[]> {
      const db = await database();
      try {
        await within(10_000, config.name, db.command({ ping: 1 }));
      } catch (e) {
        throw refusalFor(e, config.name, secrets);
      }
      try {
        return privilegeWarnings(await db.command({ connectionStatus: 1, showPrivileges: true }), config.name);
      } catch (e) {
        return [
          `MongoDB "${config.name}": could not read the relay user's privileges (${refusalFor(e, config.name, secrets).reason})`,
        ];
      }
    },

    async run(query: RelayQuery, limits: QueryLimits): Promise<RawResult> {
      const q = decodeExtendedJson(query as MongoQuery);
      const verdict = checkMongoQuery(q, config.policy);
      if (!verdict.ok) throw new RelayRefusal("policy", verdict.reason);
      const collector = new DocumentCollector(limits, denied, toJsonSafe);
      const db = await database();
      try {
        await within(limits.timeoutMs + 2000, config.name, read(db, q, limits, collector));
      } catch (e) {
        throw refusalFor(e, config.name, secrets);
      }
      const shaped = collector.finish(verdict.forcedMask);
      return {
        ...shaped,
        tables: verdict.collections,
        normalized: verdict.normalized,
        fingerprint: verdict.fingerprint,
        ...(verdict.forcedMask.length > 0 ? { forcedMask: verdict.forcedMask } : {}),
      };
    },

    async close(): Promise<void> {
      const c = client;
      client = undefined;
      connecting = undefined;
      await c?.close();
    },
  };
}
