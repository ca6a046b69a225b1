// Every setting Causeloop reads, typed and validated once at start. Flags override environment variables.
import { parseCorsOrigins, type CorsPolicy } from "./http/edge/headers.ts";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULT_RETRY_SCHEDULE, type DeliverySettings } from "./delivery/settings.ts";
import cron from "node-cron";
import { checkUserUrl, outboundPolicy, parseAllowlist, type OutboundAllowlist } from "./net/policy.ts";
import { parseTrustedProxies, type TrustedProxies } from "./http/client-ip.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export type EngineKind = "pglite" | "postgres";

export interface DatabaseUrlInfo {
  url: string;
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: string | undefined;
}

export interface Config {
  engine: EngineKind;
  /** The state directory: PGlite's database (embedded mode), generated keys, exports, the control socket. */
  dataDir: string;
  /** Whether dataDir was given (flag or CAUSELOOP_DATA_DIR) rather than the default under $HOME. */
  dataDirExplicit: boolean;
  /** Runtime connection (PostgreSQL mode): the app role. */
  databaseUrl: DatabaseUrlInfo | undefined;
  /** Owner connection (PostgreSQL mode): migrations, role setup, onboarding. */
  databaseOwnerUrl: DatabaseUrlInfo | undefined;
  poolSize: number;
  /** Longest wait for a new PostgreSQL connection to be established. */
  dbConnectTimeoutMs: number;
  /** Longest wait for a pooled connection; past it a request answers 503 database_unreachable. */
  dbAcquireTimeoutMs: number;
  /** Prepared statements on PostgreSQL (off behind PgBouncer in transaction mode). */
  dbPrepare: boolean;
  host: string;
  port: number;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Log lines: JSON, human-readable text, or auto (text when stdout is a terminal, JSON otherwise). */
  logFormat: "auto" | "json" | "text";
  insecureAllowBypassRls: boolean;
  migrateOnStart: boolean;
  /** Audit checkpoints: sign a workspace's chain head after this many events... */
  auditCheckpointEvery: number;
  /** ...or when its oldest unsigned event is this old. */
  auditCheckpointMinutes: number;
  /** Copies of every signed checkpoint, outside the database (append-only file); `audit verify` compares against it. */
  auditAnchorFile: string;
  /** Sessions end after this long without a refresh... */
  sessionIdleMinutes: number;
  /** ...and after this long in any case. */
  sessionAbsoluteDays: number;
  /** A global identity provider accepted by POST /v1/auth/exchange in every workspace (besides each workspace's own). */
  idp: { jwksUrl: string; issuer: string; audience?: string } | undefined;
  /** Where the operator's alerts are sent (signed per Standard Webhooks when a secret is set). */
  operatorAlertWebhook: { url: string; secret: string | undefined } | undefined;
  /** Where export archives are stored (default: <data dir>/exports). */
  exportDir: string;
  /** Where `causeloop backup` writes encrypted backups and their signed manifests (default: <data dir>/backups). */
  backupDir: string;
  /** When serve takes a backup and then prunes per retention (cron, UTC); null: off (CAUSELOOP_BACKUP_CRON=off). */
  backupCron: string | null;
  /** When serve verifies the newest backup by restoring it into a scratch database (cron, UTC); null: off. */
  backupDrillCron: string | null;
  /** Retention: a backup is pruned when it is older than this many days AND not among the keepCount newest. */
  backupKeepDays: number;
  backupKeepCount: number;
  /** Staleness: the newest backup older than this (hours) fails doctor and raises the backup_stale alert. */
  backupMaxAgeHours: number;
  /** Staleness: the newest successful restore drill older than this (days) does too. */
  backupDrillMaxAgeDays: number;
  /** Where pg_dump and pg_restore are (PostgreSQL backups); unset: PATH, then /usr/lib/postgresql/<newest>/bin. */
  pgBinDir: string | undefined;
  exportLinkMinutes: number;
  /** An S3-compatible bucket for exports instead of the local directory. */
  exportS3: S3Bucket | undefined;
  /** An S3-compatible bucket every backup (and the erasure ledger) is also copied to. */
  backupS3: S3Bucket | undefined;
  exportRetentionDays: number;
  /** A claimed job whose worker stops renewing it is taken over after this long. */
  jobLeaseSeconds: number;
  /** When the daily retention purge runs (cron, UTC). */
  retentionCron: string;
  /** How long an operator command waits for a PGlite data dir held by another short-lived command. */
  lockWaitMs: number;
  /** The VACUUM after an erasure: plain, full (rewrites the tables), or auto (full on PGlite, plain on PostgreSQL). */
  rtbfVacuum: "auto" | "plain" | "full";
  /** Hosts and CIDRs that user-given URLs (webhooks, SSO key sets) may reach although not public, over http too. */
  outboundAllowlist: OutboundAllowlist;
  /** The API's public base URL (CAUSELOOP_PUBLIC_URL): single sign-on builds its redirect URI, ACS and SP entity id from it. */
  publicUrl: string | undefined;
  /** Peers whose X-Forwarded-For / Forwarded headers name the client (CAUSELOOP_TRUSTED_PROXIES). */
  trustedProxies: TrustedProxies;
  /** Browser origins allowed to call the API (CAUSELOOP_CORS_ORIGINS). */
  cors: CorsPolicy;
  /** Requests per minute: each credential, each workspace (unless it has its own), each address without one. */
  rateLimit: { perCredential: number; perWorkspace: number; perAddress: number };
  /** How long an Idempotency-Key's answer is kept. */
  idempotencyTtlHours: number;
  /** Days the admin token `onboard` prints stays valid (0: it never expires). */
  onboardingTokenDays: number;
  /** A workspace whose last completed access review is older than this many days gets a reminder alert. */
  accessReviewDays: number;
  /** Native TLS: PEM certificate chain and private key files (re-read on SIGHUP). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Requests handled at once by this instance; beyond it, 503 with Retry-After at once (probes excepted). */
  maxInFlight: number;
  /** How often serve attests tenant isolation (catalog lint and live cross-tenant probe). */
  attestationIntervalSeconds: number;
  /** Outbound delivery: the retry schedule and the per-destination circuit breaker. */
  delivery: DeliverySettings;
  /**
   * Prometheus metrics: a listener of their own (CAUSELOOP_METRICS_ADDR), and GET /metrics on the API port
   * when a token is set (CAUSELOOP_METRICS_TOKEN, required there as a bearer credential, and on the listener too).
   * With neither, no metrics are served.
   */
  metrics: { address: { host: string; port: number } | undefined; token: string | undefined };
  /** OpenTelemetry traces: on only when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT and friends). */
  tracing: TracingSettings | undefined;
  /** Embedded mode: PGlite's buffer pool (shared_buffers), e.g. "32768kB"; openPglite reads the same setting. */
  pgliteSharedBuffers: string;
}

export type TraceSamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

/** The standard OTEL_* variables as serve uses them (the exporter is loaded only when these exist). */
export interface TracingSettings {
  /** Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  protocol: "http/protobuf" | "http/json";
  /** Sent with every export (an API key of the backend, typically): a secret, never logged. */
  headers: Record<string, string>;
  serviceName: string;
  sampler: TraceSamplerName;
  /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG), 0 to 1. */
  samplerRatio: number;
}

export interface ConfigOverrides {
  tlsCert?: string;
  tlsKey?: string;
  dataDir?: string;
  databaseUrl?: string;
  host?: string;
  port?: string | number;
  insecureAllowBypassRls?: boolean;
  migrate?: boolean;
}

export const DEFAULT_DATA_DIR = join(homedir(), ".local", "share", "causeloop");

/** The environment variables Causeloop reads, with their defaults; the README table mirrors this list. */
export const ENVIRONMENT = {
  DATABASE_URL: "unset: embedded PGlite",
  DATABASE_OWNER_URL: "unset",
  CAUSELOOP_DATA_DIR: "~/.local/share/causeloop",
  CAUSELOOP_HOST: "127.0.0.1",
  CAUSELOOP_PORT: "8080",
  CAUSELOOP_DB_POOL_SIZE: "10",
  CAUSELOOP_DB_CONNECT_TIMEOUT_MS: "5000",
  CAUSELOOP_DB_ACQUIRE_TIMEOUT_MS: "5000",
  CAUSELOOP_BODY_LIMIT_BYTES: "1048576",
  CAUSELOOP_SHUTDOWN_TIMEOUT_MS: "10000",
  CAUSELOOP_LOG_LEVEL: "info",
  CAUSELOOP_INSECURE_ALLOW_BYPASS_RLS: "false",
  CAUSELOOP_LOCK_WAIT_MS: "15000",
  CAUSELOOP_PGLITE_SHARED_BUFFERS: "16MB",
  CAUSELOOP_AUDIT_CHECKPOINT_EVERY: "100",
  CAUSELOOP_SESSION_IDLE_MINUTES: "1440",
  CAUSELOOP_RETENTION_CRON: "30 3 * * *",
  CAUSELOOP_EXPORT_DIR: "<data dir>/exports",
  CAUSELOOP_BACKUP_DIR: "<data dir>/backups",
  CAUSELOOP_BACKUP_CRON: "41 3 * * *",
  CAUSELOOP_BACKUP_DRILL_CRON: "11 4 * * 0",
  CAUSELOOP_BACKUP_KEEP_DAYS: "30",
  CAUSELOOP_BACKUP_KEEP_COUNT: "7",
  CAUSELOOP_BACKUP_MAX_AGE_HOURS: "36",
  CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS: "8",
  CAUSELOOP_PG_BIN_DIR: "unset: PATH, then /usr/lib/postgresql/<newest>/bin",
  CAUSELOOP_EXPORT_LINK_MINUTES: "15",
  CAUSELOOP_EXPORT_S3_BUCKET: "unset: local directory",
  CAUSELOOP_EXPORT_S3_ENDPOINT: "AWS",
  CAUSELOOP_EXPORT_S3_REGION: "unset",
  CAUSELOOP_EXPORT_S3_ACCESS_KEY_ID: "unset (or AWS_ACCESS_KEY_ID)",
  CAUSELOOP_EXPORT_S3_SECRET_ACCESS_KEY: "unset (or AWS_SECRET_ACCESS_KEY)",
  CAUSELOOP_EXPORT_S3_PREFIX: "exports/",
  CAUSELOOP_BACKUP_S3_BUCKET: "unset: the backup directory only",
  CAUSELOOP_BACKUP_S3_ENDPOINT: "AWS",
  CAUSELOOP_BACKUP_S3_REGION: "unset",
  CAUSELOOP_BACKUP_S3_ACCESS_KEY_ID: "unset (or AWS_ACCESS_KEY_ID)",
  CAUSELOOP_BACKUP_S3_SECRET_ACCESS_KEY: "unset (or AWS_SECRET_ACCESS_KEY)",
  CAUSELOOP_BACKUP_S3_PREFIX: "backups/",
  CAUSELOOP_EXPORT_RETENTION_DAYS: "7",
  CAUSELOOP_JOB_LEASE_SECONDS: "300",
  CAUSELOOP_IDP_JWKS_URL: "unset",
  CAUSELOOP_IDP_ISSUER: "unset",
  CAUSELOOP_IDP_AUDIENCE: "unset",
  CAUSELOOP_SESSION_ABSOLUTE_DAYS: "30",
  CAUSELOOP_AUDIT_CHECKPOINT_MINUTES: "10",
  CAUSELOOP_AUDIT_ANCHOR_FILE: "<data-dir>/audit-anchors.ndjson",
  CAUSELOOP_RTBF_VACUUM: "auto",
  CAUSELOOP_OUTBOUND_ALLOWLIST: "empty",
  CAUSELOOP_PUBLIC_URL: "unset: no single sign-on flows",
  CAUSELOOP_TRUSTED_PROXIES: "empty: the socket's peer is the client",
  CAUSELOOP_CORS_ORIGINS: "empty: no browser origin",
  CAUSELOOP_RATE_LIMIT_PER_MINUTE: "1000",
  CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE: "5000",
  CAUSELOOP_RATE_LIMIT_IP_PER_MINUTE: "300",
  CAUSELOOP_IDEMPOTENCY_TTL_HOURS: "24",
  CAUSELOOP_ONBOARDING_TOKEN_DAYS: "7",
  CAUSELOOP_ACCESS_REVIEW_DAYS: "90",
  CAUSELOOP_TLS_CERT_FILE: "unset: plain HTTP",
  CAUSELOOP_TLS_KEY_FILE: "unset",
  CAUSELOOP_MAX_IN_FLIGHT: "256",
  CAUSELOOP_DB_PREPARE: "true",
  CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "300",
  CAUSELOOP_DELIVERY_RETRY_SCHEDULE: DEFAULT_RETRY_SCHEDULE.join(","),
  CAUSELOOP_DELIVERY_BREAKER_THRESHOLD: "10",
  CAUSELOOP_DELIVERY_BREAKER_SECONDS: "60",
  CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL: "unset: operator alerts are listed, not sent",
  CAUSELOOP_OPERATOR_ALERT_WEBHOOK_SECRET: "unset: unsigned",
  CAUSELOOP_METRICS_ADDR: "unset: no metrics listener",
  CAUSELOOP_METRICS_TOKEN: "unset: no /metrics on the API port",
  CAUSELOOP_LOG_FORMAT: "auto: text on a terminal, JSON otherwise",
  OTEL_EXPORTER_OTLP_ENDPOINT: "unset: no tracing",
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "unset: <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces",
  OTEL_EXPORTER_OTLP_HEADERS: "unset",
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: "unset",
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "unset: OTEL_EXPORTER_OTLP_PROTOCOL",
  OTEL_SERVICE_NAME: "causeloop",
  OTEL_TRACES_SAMPLER: "parentbased_always_on",
  OTEL_TRACES_SAMPLER_ARG: "1",
  OTEL_TRACES_EXPORTER: "otlp",
  OTEL_SDK_DISABLED: "false",
  // `causeloop relay` (src/relay/agent/config.ts reads these over relay.json; CAUSELOOP_RELAY_DB_<NAME>_URL too)
  CAUSELOOP_RELAY_TOKEN: "unset: relay.json token",
  CAUSELOOP_RELAY_SERVER: "unset: relay.json server",
  CAUSELOOP_RELAY_HMAC_KEY: "unset: the relay's key file",
} as const;

type Env = Record<string, string | undefined>;

/** The public base URL: an absolute http(s) URL without credentials, query or fragment; no trailing slash. */
function publicUrlFrom(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("CAUSELOOP_PUBLIC_URL is not a valid URL");
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash)
    throw new ConfigError("CAUSELOOP_PUBLIC_URL must be an http(s) base URL without credentials, query or fragment");
  return url.toString().replace(/\/+$/, "");
}

export function parseDatabaseUrl(raw: string, name: string): DatabaseUrlInfo {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL (expected postgres://user:password@host:5432/database)`);
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(`${name} must start with postgres:// or postgresql:// (got ${url.protocol}//)`);
  }
  if (!url.hostname) throw new ConfigError(`${name} has no host`);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!database) throw new ConfigError(`${name} names no database (add /<database> after the host)`);
  const port = url.port ? Number(url.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${name} has a bad port`);
  const sslmode = url.searchParams.get("sslmode") ?? undefined;
  const allowed = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
  if (sslmode !== undefined && !allowed.includes(sslmode)) {
    throw new ConfigError(`${name} has an unknown sslmode '${sslmode}' (one of ${allowed.join(", ")})`);
  }
  return { url: raw, host: url.hostname, port, database, user: decodeURIComponent(url.username), sslmode };
}

export interface S3Bucket {
  bucket: string;
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  prefix: string;
}

/** `<base>_BUCKET` and its companions (`_ENDPOINT`, `_REGION`, `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY`, `_PREFIX`). */
function s3From(env: Record<string, string | undefined>, base: string, prefix: string): S3Bucket | undefined {
  const bucket = env[`${base}_BUCKET`];
  if (!bucket) return undefined;
  return {
    bucket,
    endpoint: env[`${base}_ENDPOINT`] || undefined,
    region: env[`${base}_REGION`] || undefined,
    accessKeyId: env[`${base}_ACCESS_KEY_ID`] || env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env[`${base}_SECRET_ACCESS_KEY`] || env.AWS_SECRET_ACCESS_KEY || undefined,
    prefix: env[`${base}_PREFIX`] ?? prefix,
  };
}

const KB_PER_UNIT = { kb: 1, mb: 1024, gb: 1024 * 1024 } as const;

/**
 * Embedded mode: PGlite's buffer pool (PostgreSQL's shared_buffers), in kB for PostgreSQL's -c. PGlite zeroes
 * the whole pool at start, so it is resident memory from the first second. 16MB (2 048 pages) holds a small
 * deployment's hot pages, and the rest is read from the operating system's page cache; it keeps an idle serve
 * 16 MiB below 32MB's (PostgreSQL's own default, 128MB, costs about 100 MiB more). At most 1GB: PGlite's
 * WebAssembly memory stops at 2 GiB.
 */
export function pgliteSharedBuffers(env: Env = process.env): string {
  const raw = env.CAUSELOOP_PGLITE_SHARED_BUFFERS?.trim() || "16MB";
  const match = /^(\d+)\s*(kB|MB|GB)$/i.exec(raw);
  const kb = match ? Number(match[1]) * KB_PER_UNIT[(match[2] as string).toLowerCase() as keyof typeof KB_PER_UNIT] : 0;
  if (!match || kb < 128 || kb > 1024 * 1024)
    throw new ConfigError(
      `CAUSELOOP_PGLITE_SHARED_BUFFERS must be a size from 128kB to 1GB, such as 32MB (got '${raw}')`,
    );
  return `${kb}kB`;
}

function integer(raw: string | number | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got '${raw}')`);
  }
  return value;
}

/** Seconds before each retry, comma-separated (fractions allowed); at most 30 retries of at most 2 days each. */
function retrySchedule(raw: string | undefined, name: string): number[] {
  if (raw === undefined || raw.trim() === "") return DEFAULT_RETRY_SCHEDULE;
  const values = raw.split(",").map((part) => Number(part.trim()));
  if (values.length > 30 || values.some((v) => !Number.isFinite(v) || v < 0 || v > 172_800))
    throw new ConfigError(
      `${name} must be up to 30 comma-separated numbers of seconds from 0 to 172800 (got '${raw}')`,
    );
  return values;
}

function boolean(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === "") return false;
  if (["1", "true", "yes", "on"].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false (got '${raw}')`);
}

function oneOf<T extends string>(raw: string | undefined, name: string, allowed: readonly T[], fallback: T): T {
  const value = (raw?.trim() || fallback).toLowerCase();
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")} (got '${raw}')`);
  return value as T;
}

function cronSetting(raw: string | undefined, name: string, fallback: string): string {
  const value = raw?.trim() || fallback;
  if (!cron.validate(value)) throw new ConfigError(`${name} is not a valid cron expression: '${value}'`);
  return value;
}

/** A cron expression, or `off` (null): a schedule the operator may switch off. */
function cronOrOff(raw: string | undefined, name: string, fallback: string): string | null {
  if (raw?.trim().toLowerCase() === "off") return null;
  return cronSetting(raw, name, fallback);
}

function allowlistFrom(env: Env): OutboundAllowlist {
  try {
    return parseAllowlist(env.CAUSELOOP_OUTBOUND_ALLOWLIST);
  } catch (error) {
    throw new ConfigError(`CAUSELOOP_OUTBOUND_ALLOWLIST: ${(error as Error).message}`);
  }
}

function trustedProxiesFrom(env: Env): TrustedProxies {
  try {
    return parseTrustedProxies(env.CAUSELOOP_TRUSTED_PROXIES);
  } catch (error) {
    throw new ConfigError(`CAUSELOOP_TRUSTED_PROXIES: ${(error as Error).message}`);
  }
}

function tlsFrom(cert: string | undefined, key: string | undefined): Config["tls"] {
  if (!cert && !key) return undefined;
  if (!cert || !key)
    throw new ConfigError("--tls-cert and --tls-key (CAUSELOOP_TLS_CERT_FILE, CAUSELOOP_TLS_KEY_FILE) go together");
  return { certFile: resolve(cert), keyFile: resolve(key) };
}

function corsFrom(env: Env): CorsPolicy {
  try {
    return parseCorsOrigins(env.CAUSELOOP_CORS_ORIGINS);
  } catch (error) {
    throw new ConfigError(`CAUSELOOP_CORS_ORIGINS: ${(error as Error).message}`);
  }
}

/** CAUSELOOP_METRICS_ADDR: `host:port` or `[v6]:port`, the host always explicit (never a wildcard by omission). */
export function parseMetricsAddress(raw: string | undefined): { host: string; port: number } | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const bad = () =>
    new ConfigError(`CAUSELOOP_METRICS_ADDR must be host:port, such as 127.0.0.1:9464 or [::1]:9464 (got '${value}')`);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  if (!match) throw bad();
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port > 65535) throw bad();
  return { host, port };
}

const SAMPLERS: readonly TraceSamplerName[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

/** `key=value,key2=value2` with percent-encoded values (the OTLP exporter's format); never echoes a value. */
export function parseOtlpHeaders(raw: string | undefined, name: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const part of (raw ?? "").split(",")) {
    if (!part.trim()) continue;
    const at = part.indexOf("=");
    const key = at > 0 ? part.slice(0, at).trim() : "";
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key))
      throw new ConfigError(`${name} must be comma-separated key=value pairs (a header name is missing or invalid)`);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      throw new ConfigError(`${name}: the value of ${key} is not valid percent-encoding`);
    }
    if (/[\r\n\0]/.test(value)) throw new ConfigError(`${name}: the value of ${key} holds a line break`);
    headers[key.toLowerCase()] = value;
  }
  return headers;
}

function otlpUrl(raw: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL (expected http://collector:4318)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError(`${name} must be an http:// or https:// URL (OTLP over HTTP; gRPC is not supported)`);
  return url;
}

/** Tracing is on when an OTLP endpoint is set, unless OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none says no. */
function tracingFrom(env: Env): TracingSettings | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!traces && !base) return undefined;
  if (boolean(env.OTEL_SDK_DISABLED, "OTEL_SDK_DISABLED")) return undefined;
  const exporter = oneOf(env.OTEL_TRACES_EXPORTER, "OTEL_TRACES_EXPORTER", ["otlp", "none"] as const, "otlp");
  if (exporter === "none") return undefined;
  let url: string;
  if (traces) url = otlpUrl(traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").toString();
  else {
    const root = otlpUrl(base as string, "OTEL_EXPORTER_OTLP_ENDPOINT").toString();
    url = `${root.endsWith("/") ? root : `${root}/`}v1/traces`;
  }
  const protocolName = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = oneOf(env[protocolName], protocolName, ["http/protobuf", "http/json"] as const, "http/protobuf");
  const sampler = oneOf(env.OTEL_TRACES_SAMPLER, "OTEL_TRACES_SAMPLER", SAMPLERS, "parentbased_always_on");
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const samplerRatio = arg ? Number(arg) : 1;
  if (!Number.isFinite(samplerRatio) || samplerRatio < 0 || samplerRatio > 1)
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (got '${arg}')`);
  return {
    url,
    protocol,
    headers: {
      ...parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, "OTEL_EXPORTER_OTLP_HEADERS"),
      ...parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
    },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || "causeloop",
    sampler,
    samplerRatio,
  };
}

function metricsFrom(env: Env, api: { port: number }): Config["metrics"] {
  const address = parseMetricsAddress(env.CAUSELOOP_METRICS_ADDR);
  if (address && address.port !== 0 && address.port === api.port)
    throw new ConfigError(
      `CAUSELOOP_METRICS_ADDR uses the API's port ${api.port}: give the metrics listener a port of its own`,
    );
  const token = env.CAUSELOOP_METRICS_TOKEN || undefined;
  // Checked without ever echoing the value: it is a secret.
  if (token !== undefined && !/^[\x21-\x7e]{16,512}$/.test(token))
    throw new ConfigError(
      "CAUSELOOP_METRICS_TOKEN must be 16 to 512 printable characters without spaces (for example `openssl rand -hex 32`)",
    );
  return { address, token };
}

function idpFrom(env: Env, allowlist: OutboundAllowlist): Config["idp"] {
  if (!env.CAUSELOOP_IDP_JWKS_URL) return undefined;
  // The global key set is fetched through the same guard as the tenants' ones: refuse a URL it would refuse.
  try {
    checkUserUrl(env.CAUSELOOP_IDP_JWKS_URL, outboundPolicy({ allowlist }));
  } catch (error) {
    throw new ConfigError(`CAUSELOOP_IDP_JWKS_URL ${(error as Error).message}`);
  }
  if (!env.CAUSELOOP_IDP_ISSUER) throw new ConfigError("CAUSELOOP_IDP_ISSUER is required with CAUSELOOP_IDP_JWKS_URL");
  return {
    jwksUrl: env.CAUSELOOP_IDP_JWKS_URL,
    issuer: env.CAUSELOOP_IDP_ISSUER,
    audience: env.CAUSELOOP_IDP_AUDIENCE || undefined,
  };
}

function operatorAlertWebhookFrom(env: Env, allowlist: OutboundAllowlist): Config["operatorAlertWebhook"] {
  const url = env.CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL;
  const secret = env.CAUSELOOP_OPERATOR_ALERT_WEBHOOK_SECRET || undefined;
  if (!url) {
    if (secret)
      throw new ConfigError("CAUSELOOP_OPERATOR_ALERT_WEBHOOK_SECRET needs CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL");
    return undefined;
  }
  try {
    checkUserUrl(url, outboundPolicy({ allowlist }));
  } catch (error) {
    throw new ConfigError(`CAUSELOOP_OPERATOR_ALERT_WEBHOOK_URL ${(error as Error).message}`);
  }
  if (secret && !/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/.test(secret))
    throw new ConfigError(
      "CAUSELOOP_OPERATOR_ALERT_WEBHOOK_SECRET must be a Standard Webhooks secret: 'whsec_' followed by base64 of 24 to 64 bytes",
    );
  return { url, secret };
}

export function loadConfig(env: Env = process.env, flags: ConfigOverrides = {}): Config {
  const rawUrl = flags.databaseUrl ?? env.DATABASE_URL;
  const databaseUrl = rawUrl ? parseDatabaseUrl(rawUrl, "DATABASE_URL") : undefined;
  const databaseOwnerUrl = env.DATABASE_OWNER_URL
    ? parseDatabaseUrl(env.DATABASE_OWNER_URL, "DATABASE_OWNER_URL")
    : undefined;
  const logLevel = (env.CAUSELOOP_LOG_LEVEL ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(`CAUSELOOP_LOG_LEVEL must be one of debug, info, warn, error (got '${logLevel}')`);
  }
  const host = flags.host ?? env.CAUSELOOP_HOST ?? "127.0.0.1";
  const outboundAllowlist = allowlistFrom(env);
  const trustedProxies = trustedProxiesFrom(env);
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new ConfigError(`host '${host}' is not a valid host name or address`);
  return {
    // An owner URL alone means PostgreSQL too (migrate, roles setup, setup): never a surprise embedded database.
    engine: databaseUrl || databaseOwnerUrl ? "postgres" : "pglite",
    dataDir: resolve(flags.dataDir ?? env.CAUSELOOP_DATA_DIR ?? DEFAULT_DATA_DIR),
    dataDirExplicit: Boolean(flags.dataDir ?? env.CAUSELOOP_DATA_DIR),
    databaseUrl,
    databaseOwnerUrl,
    poolSize: integer(env.CAUSELOOP_DB_POOL_SIZE, "CAUSELOOP_DB_POOL_SIZE", 10, 1, 500),
    dbConnectTimeoutMs: integer(
      env.CAUSELOOP_DB_CONNECT_TIMEOUT_MS,
      "CAUSELOOP_DB_CONNECT_TIMEOUT_MS",
      5_000,
      100,
      600_000,
    ),
    dbAcquireTimeoutMs: integer(
      env.CAUSELOOP_DB_ACQUIRE_TIMEOUT_MS,
      "CAUSELOOP_DB_ACQUIRE_TIMEOUT_MS",
      5_000,
      100,
      600_000,
    ),
    dbPrepare: !env.CAUSELOOP_DB_PREPARE || boolean(env.CAUSELOOP_DB_PREPARE, "CAUSELOOP_DB_PREPARE"),
    host,
    port: integer(flags.port ?? env.CAUSELOOP_PORT, "port", 8080, 0, 65535),
    bodyLimitBytes: integer(
      env.CAUSELOOP_BODY_LIMIT_BYTES,
      "CAUSELOOP_BODY_LIMIT_BYTES",
      1024 * 1024,
      1024,
      1024 * 1024 * 1024,
    ),
    shutdownTimeoutMs: integer(env.CAUSELOOP_SHUTDOWN_TIMEOUT_MS, "CAUSELOOP_SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    logLevel: logLevel as Config["logLevel"],
    logFormat: oneOf(env.CAUSELOOP_LOG_FORMAT, "CAUSELOOP_LOG_FORMAT", ["auto", "json", "text"] as const, "auto"),
    insecureAllowBypassRls:
      flags.insecureAllowBypassRls ??
      boolean(env.CAUSELOOP_INSECURE_ALLOW_BYPASS_RLS, "CAUSELOOP_INSECURE_ALLOW_BYPASS_RLS"),
    migrateOnStart: flags.migrate ?? false,
    auditCheckpointEvery: integer(
      env.CAUSELOOP_AUDIT_CHECKPOINT_EVERY,
      "CAUSELOOP_AUDIT_CHECKPOINT_EVERY",
      100,
      1,
      1_000_000,
    ),
    auditCheckpointMinutes: integer(
      env.CAUSELOOP_AUDIT_CHECKPOINT_MINUTES,
      "CAUSELOOP_AUDIT_CHECKPOINT_MINUTES",
      10,
      1,
      10_080,
    ),
    auditAnchorFile: resolve(
      env.CAUSELOOP_AUDIT_ANCHOR_FILE ||
        join(resolve(flags.dataDir ?? env.CAUSELOOP_DATA_DIR ?? DEFAULT_DATA_DIR), "audit-anchors.ndjson"),
    ),
    sessionIdleMinutes: integer(env.CAUSELOOP_SESSION_IDLE_MINUTES, "CAUSELOOP_SESSION_IDLE_MINUTES", 1440, 5, 525_600),
    sessionAbsoluteDays: integer(env.CAUSELOOP_SESSION_ABSOLUTE_DAYS, "CAUSELOOP_SESSION_ABSOLUTE_DAYS", 30, 1, 365),
    idp: idpFrom(env, outboundAllowlist),
    operatorAlertWebhook: operatorAlertWebhookFrom(env, outboundAllowlist),
    exportDir: resolve(
      env.CAUSELOOP_EXPORT_DIR ?? join(resolve(flags.dataDir ?? env.CAUSELOOP_DATA_DIR ?? DEFAULT_DATA_DIR), "exports"),
    ),
    backupDir: resolve(
      env.CAUSELOOP_BACKUP_DIR ?? join(resolve(flags.dataDir ?? env.CAUSELOOP_DATA_DIR ?? DEFAULT_DATA_DIR), "backups"),
    ),
    backupCron: cronOrOff(env.CAUSELOOP_BACKUP_CRON, "CAUSELOOP_BACKUP_CRON", "41 3 * * *"),
    backupDrillCron: cronOrOff(env.CAUSELOOP_BACKUP_DRILL_CRON, "CAUSELOOP_BACKUP_DRILL_CRON", "11 4 * * 0"),
    backupKeepDays: integer(env.CAUSELOOP_BACKUP_KEEP_DAYS, "CAUSELOOP_BACKUP_KEEP_DAYS", 30, 1, 36_500),
    backupKeepCount: integer(env.CAUSELOOP_BACKUP_KEEP_COUNT, "CAUSELOOP_BACKUP_KEEP_COUNT", 7, 1, 10_000),
    backupMaxAgeHours: integer(env.CAUSELOOP_BACKUP_MAX_AGE_HOURS, "CAUSELOOP_BACKUP_MAX_AGE_HOURS", 36, 1, 8_760),
    backupDrillMaxAgeDays: integer(
      env.CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS,
      "CAUSELOOP_BACKUP_DRILL_MAX_AGE_DAYS",
      8,
      1,
      366,
    ),
    pgBinDir: env.CAUSELOOP_PG_BIN_DIR ? resolve(env.CAUSELOOP_PG_BIN_DIR) : undefined,
    exportLinkMinutes: integer(env.CAUSELOOP_EXPORT_LINK_MINUTES, "CAUSELOOP_EXPORT_LINK_MINUTES", 15, 1, 10_080),
    exportS3: s3From(env, "CAUSELOOP_EXPORT_S3", "exports/"),
    backupS3: s3From(env, "CAUSELOOP_BACKUP_S3", "backups/"),
    exportRetentionDays: integer(env.CAUSELOOP_EXPORT_RETENTION_DAYS, "CAUSELOOP_EXPORT_RETENTION_DAYS", 7, 1, 365),
    jobLeaseSeconds: integer(env.CAUSELOOP_JOB_LEASE_SECONDS, "CAUSELOOP_JOB_LEASE_SECONDS", 300, 10, 86_400),
    retentionCron: cronSetting(env.CAUSELOOP_RETENTION_CRON, "CAUSELOOP_RETENTION_CRON", "30 3 * * *"),
    lockWaitMs: integer(env.CAUSELOOP_LOCK_WAIT_MS, "CAUSELOOP_LOCK_WAIT_MS", 15_000, 0, 600_000),
    pgliteSharedBuffers: pgliteSharedBuffers(env),
    rtbfVacuum: oneOf(env.CAUSELOOP_RTBF_VACUUM, "CAUSELOOP_RTBF_VACUUM", ["auto", "plain", "full"] as const, "auto"),
    outboundAllowlist,
    publicUrl: publicUrlFrom(env.CAUSELOOP_PUBLIC_URL),
    trustedProxies,
    cors: corsFrom(env),
    tls: tlsFrom(flags.tlsCert ?? env.CAUSELOOP_TLS_CERT_FILE, flags.tlsKey ?? env.CAUSELOOP_TLS_KEY_FILE),
    maxInFlight: integer(env.CAUSELOOP_MAX_IN_FLIGHT, "CAUSELOOP_MAX_IN_FLIGHT", 256, 1, 100_000),
    attestationIntervalSeconds: integer(
      env.CAUSELOOP_ATTESTATION_INTERVAL_SECONDS,
      "CAUSELOOP_ATTESTATION_INTERVAL_SECONDS",
      300,
      1,
      86_400,
    ),
    delivery: {
      retrySchedule: retrySchedule(env.CAUSELOOP_DELIVERY_RETRY_SCHEDULE, "CAUSELOOP_DELIVERY_RETRY_SCHEDULE"),
      breakerThreshold: integer(
        env.CAUSELOOP_DELIVERY_BREAKER_THRESHOLD,
        "CAUSELOOP_DELIVERY_BREAKER_THRESHOLD",
        10,
        1,
        10_000,
      ),
      breakerSeconds: integer(
        env.CAUSELOOP_DELIVERY_BREAKER_SECONDS,
        "CAUSELOOP_DELIVERY_BREAKER_SECONDS",
        60,
        1,
        3600,
      ),
    },
    tracing: tracingFrom(env),
    metrics: metricsFrom(env, { port: integer(flags.port ?? env.CAUSELOOP_PORT, "port", 8080, 0, 65535) }),
    idempotencyTtlHours: integer(env.CAUSELOOP_IDEMPOTENCY_TTL_HOURS, "CAUSELOOP_IDEMPOTENCY_TTL_HOURS", 24, 1, 720),
    onboardingTokenDays: integer(env.CAUSELOOP_ONBOARDING_TOKEN_DAYS, "CAUSELOOP_ONBOARDING_TOKEN_DAYS", 7, 0, 3650),
    accessReviewDays: integer(env.CAUSELOOP_ACCESS_REVIEW_DAYS, "CAUSELOOP_ACCESS_REVIEW_DAYS", 90, 1, 3650),
    rateLimit: {
      perCredential: integer(
        env.CAUSELOOP_RATE_LIMIT_PER_MINUTE,
        "CAUSELOOP_RATE_LIMIT_PER_MINUTE",
        1000,
        1,
        10_000_000,
      ),
      perWorkspace: integer(
        env.CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE,
        "CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE",
        5000,
        1,
        10_000_000,
      ),
      perAddress: integer(
        env.CAUSELOOP_RATE_LIMIT_IP_PER_MINUTE,
        "CAUSELOOP_RATE_LIMIT_IP_PER_MINUTE",
        300,
        1,
        10_000_000,
      ),
    },
  };
}
