// relay.json: what the relay serves, to whom, and under which policy and masking. Validated whole at start;
// every error names its path (`databases[1].url: …`). Environment overrides keep secrets out of the file:
// CAUSELOOP_RELAY_TOKEN, CAUSELOOP_RELAY_SERVER, CAUSELOOP_RELAY_DB_<NAME>_URL (the database's name in upper
// case, other characters as _), CAUSELOOP_RELAY_HMAC_KEY.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type MaskingConfig, validateMaskingConfig } from "../masking/index.ts";
import { type PgPolicy, validatePgPolicy } from "../policy/sql.ts";
import { type MongoPolicy, validateMongoPolicy } from "../policy/mongo.ts";
import { type DynamoPolicy, validateDynamoPolicy } from "../policy/dynamo.ts";
import { parseToken } from "../../identity/tokens.ts";
import { ConfigError } from "../../config.ts";

export interface PostgresDatabase {
  name: string;
  kind: "postgres";
  url: string;
  policy: PgPolicy;
  allow_writable_role: boolean;
}
export interface MongoDatabase {
  name: string;
  kind: "mongodb";
  url: string;
  database?: string;
  policy: MongoPolicy;
}
export interface DynamoDatabase {
  name: string;
  kind: "dynamodb";
  region: string;
  role_arn?: string;
  external_id?: string;
  endpoint?: string;
  policy: DynamoPolicy;
}
export type DatabaseConfig = PostgresDatabase | MongoDatabase | DynamoDatabase;

export interface RelayConfig {
  server: URL;
  token: string;
  databases: DatabaseConfig[];
  limits: { max_rows: number; max_bytes: number; timeout_ms: number };
  masking: MaskingConfig;
  /** Where the relay keeps its pseudonymization key (created 0600 on first start) unless the env holds one. */
  hmac_key_file: string;
  audit_log: string;
}

/** A configuration (or start-up check) the relay cannot run with: one line, exit 2. */
export class RelayConfigError extends ConfigError {
  override name = "RelayConfigError";
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const TOP = [
  "server",
  "token",
  "databases",
  "policy",
  "masking",
  "limits",
  "audit_log",
  "hmac_key_file",
  "allow_insecure_server",
];

function fail(path: string, message: string): never {
  throw new RelayConfigError(`${path}: ${message}`);
}

function str(o: Json, key: string, path: string, required = true): string | undefined {
  const value = o[key];
  if (value === undefined || value === "") {
    if (required) fail(`${path}.${key}`.replace(/^\./, ""), "is required");
    return undefined;
  }
  if (typeof value !== "string") fail(`${path}.${key}`.replace(/^\./, ""), "must be a string");
  return value;
}

function onlyKeys(o: Json, allowed: string[], path: string) {
  for (const key of Object.keys(o))
    if (!allowed.includes(key))
      fail(path ? `${path}.${key}` : key, `unknown setting (expected one of ${allowed.join(", ")})`);
}

const envName = (db: string) => `CAUSELOOP_RELAY_DB_${db.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_URL`;

function serverUrl(raw: string, allowInsecure: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail("server", "is not a URL (https://causeloop.example)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail("server", "must be an https:// URL");
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);
  if (url.protocol === "http:" && !loopback && !allowInsecure)
    fail(
      "server",
      "must be https:// (the relay verifies the server's certificate); http:// is for loopback tests only",
    );
  if (url.username || url.password) fail("server", "must not hold credentials (the token is separate)");
  return url;
}

function positive(o: Json, key: string, path: string, fallback: number, max: number): number {
  const value = o[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max)
    fail(`${path}.${key}`, `must be an integer from 1 to ${max}`);
  return value;
}

function database(raw: unknown, index: number, policy: Json, env: NodeJS.ProcessEnv): DatabaseConfig {
  const path = `databases[${index}]`;
  if (!isObject(raw)) fail(path, "must be an object");
  const name = str(raw, "name", path) as string;
  if (!NAME.test(name)) fail(`${path}.name`, "letters, digits, . _ - (up to 63)");
  const kind = raw.kind;
  const own = raw.policy === undefined ? undefined : raw.policy;
  if (own !== undefined && !isObject(own)) fail(`${path}.policy`, "must be an object");
  if (kind === "postgres") {
    onlyKeys(raw, ["name", "kind", "url", "policy", "allow_writable_role"], path);
    const url = env[envName(name)] || (str(raw, "url", path) as string);
    if (!/^postgres(ql)?:\/\//.test(url)) fail(`${path}.url`, "must be a postgres:// URL");
    const allow = raw.allow_writable_role ?? false;
    if (typeof allow !== "boolean") fail(`${path}.allow_writable_role`, "must be true or false");
    return {
      name,
      kind,
      url,
      allow_writable_role: allow,
      policy: validatePgPolicy(own ?? policy.postgres ?? {}, own ? `${path}.policy` : "policy.postgres"),
    };
  }
  if (kind === "mongodb") {
    onlyKeys(raw, ["name", "kind", "url", "database", "policy"], path);
    const url = env[envName(name)] || (str(raw, "url", path) as string);
    if (!/^mongodb(\+srv)?:\/\//.test(url)) fail(`${path}.url`, "must be a mongodb:// URL");
    return {
      name,
      kind,
      url,
      database: str(raw, "database", path, false),
      policy: validateMongoPolicy(own ?? policy.mongodb ?? {}, own ? `${path}.policy` : "policy.mongodb"),
    };
  }
  if (kind === "dynamodb") {
    onlyKeys(raw, ["name", "kind", "region", "role_arn", "external_id", "endpoint", "policy"], path);
    const roleArn = str(raw, "role_arn", path, false);
    if (roleArn && !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn))
      fail(`${path}.role_arn`, "must be an IAM role ARN (arn:aws:iam::123456789012:role/name)");
    const externalId = str(raw, "external_id", path, false);
    if (externalId && !roleArn) fail(`${path}.external_id`, "needs role_arn");
    return {
      name,
      kind,
      region: str(raw, "region", path) as string,
      role_arn: roleArn,
      external_id: externalId,
      endpoint: env[envName(name)] || str(raw, "endpoint", path, false),
      policy: validateDynamoPolicy(own ?? policy.dynamodb ?? {}, own ? `${path}.policy` : "policy.dynamodb"),
    };
  }
  fail(`${path}.kind`, "must be postgres, mongodb or dynamodb");
}

/** Parses and validates a relay configuration (the file's JSON), applying the environment's overrides. */
export function parseRelayConfig(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  if (!isObject(raw)) fail("(file)", "must be a JSON object");
  onlyKeys(raw, TOP, "");
  const allowInsecure = raw.allow_insecure_server ?? false;
  if (typeof allowInsecure !== "boolean") fail("allow_insecure_server", "must be true or false");
  const server = serverUrl(env.CAUSELOOP_RELAY_SERVER || (str(raw, "server", "") as string), allowInsecure);
  const token = env.CAUSELOOP_RELAY_TOKEN || (str(raw, "token", "") as string);
  if (!parseToken("relay", token))
    fail(
      "token",
      "is not a relay token (clp_relay_…; create one with `causeloop relay-token create` or POST /v1/relay-tokens)",
    );
  const policy = raw.policy ?? {};
  if (!isObject(policy)) fail("policy", "must be an object");
  onlyKeys(policy, ["postgres", "mongodb", "dynamodb"], "policy");
  if (!Array.isArray(raw.databases) || raw.databases.length === 0) fail("databases", "must list at least one database");
  const databases = raw.databases.map((d, i) => database(d, i, policy, env));
  const names = new Set<string>();
  for (const [i, d] of databases.entries()) {
    if (names.has(d.name)) fail(`databases[${i}].name`, `${d.name} is listed twice`);
    names.add(d.name);
  }
  const limits = raw.limits ?? {};
  if (!isObject(limits)) fail("limits", "must be an object");
  onlyKeys(limits, ["max_rows", "max_bytes", "timeout_ms"], "limits");
  const file = (key: string, fallback: string) => resolve(baseDir, str(raw, key, "", false) ?? fallback);
  return {
    server,
    token,
    databases,
    limits: {
      max_rows: positive(limits, "max_rows", "limits", 1000, 100_000),
      max_bytes: positive(limits, "max_bytes", "limits", 4 * 1024 * 1024, 10 * 1024 * 1024),
      timeout_ms: positive(limits, "timeout_ms", "limits", 30_000, 300_000),
    },
    masking: validateMaskingConfig(raw.masking ?? {}, "masking"),
    hmac_key_file: file("hmac_key_file", "causeloop-relay.key"),
    audit_log: file("audit_log", "causeloop-relay-audit.jsonl"),
  };
}

/** Reads relay.json (relative paths in it are relative to the file). */
export function loadRelayConfig(path: string, env: NodeJS.ProcessEnv = process.env): RelayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new RelayConfigError(`cannot read the relay configuration ${path}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new RelayConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseRelayConfig(raw, dirname(resolve(path)), env);
}
