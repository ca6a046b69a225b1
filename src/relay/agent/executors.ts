// One executor per configured database, of its kind.
import { createDynamoExecutor } from "../executors/dynamodb.ts";
import { createMongoExecutor } from "../executors/mongodb.ts";
import { createPostgresExecutor } from "../executors/postgres.ts";
import type { Executor } from "../types.ts";
import type { DatabaseConfig } from "./config.ts";

export function executorFor(db: DatabaseConfig, timeoutMs: number): Executor {
  if (db.kind === "postgres")
    return createPostgresExecutor({
      name: db.name,
      url: db.url,
      policy: db.policy,
      allow_writable_role: db.allow_writable_role,
      statement_timeout_ms: timeoutMs,
    });
  if (db.kind === "mongodb")
    return createMongoExecutor({ name: db.name, url: db.url, database: db.database, policy: db.policy });
  return createDynamoExecutor({
    name: db.name,
    region: db.region,
    role_arn: db.role_arn,
    external_id: db.external_id,
    endpoint: db.endpoint,
    policy: db.policy,
  });
}
