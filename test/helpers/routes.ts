// The route harness's building blocks: the whole app as `serve` composes it, signed in as an owner, its
// routes enumerated with their declared schemas, and generators of malformed requests derived from those
// schemas. A new route is covered the moment it exists: nothing here names a route.
import { newId } from "../../src/ids.ts";
import { recurringProblem } from "./intelligence.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyElysia } from "elysia";
import { createApp, type HttpApp, type RateLimits } from "../../src/http/app.ts";
import { createLogger, type Logger } from "../../src/log.ts";
import { tenantDoor, withoutTenant } from "../../src/db/tenant.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { localStore } from "../../src/governance/storage.ts";
import { approve, importHmacKey } from "../../src/governance/rtbf.ts";
import type { EngineKind } from "../../src/config.ts";
import { createTestDb, type TestDb } from "./db.ts";
import { testSigner } from "./signer.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import type { OutboundPolicy } from "../../src/net/policy.ts";
import { requestAlerts, type RequestAlerts } from "../../src/security/request-rules.ts";
import { databaseReadout } from "../../src/observability/readout.ts";
import { metricsRoutes } from "../../src/observability/routes.ts";
import type { Tracing } from "../../src/observability/tracing.ts";

/** The metrics token of an app built with `metrics: true` (GET /metrics on the API port, as CAUSELOOP_METRICS_TOKEN). */
export const HARNESS_METRICS_TOKEN = "harness-metrics-token-0123456789";

export interface OwnerApp {
  app: HttpApp;
  db: TestDb;
  tenant: OnboardResult;
  /** The owner's access token from a password sign-in (account-level routes refuse tokens). */
  token: string;
  /** Every error and warning the app logged (a 5xx always logs one). */
  logged: string[];
  /** The master key ring the app seals secrets with. */
  kek: LocalKeyRing;
  /** The audit signing key the app's checkpoints and JWKS use. */
  signer: Signer;
  /** With `metrics: true`: the app's metrics, served at GET /metrics with HARNESS_METRICS_TOKEN. */
  metrics?: Metrics;
  /** With `alerts: true`: the request-stream alert rules. */
  alerts?: RequestAlerts;
  dispose(): Promise<void>;
}

/** The app with every capability, as `serve` composes it, on a fresh database with one onboarded owner. */
export async function ownerApp(
  kind: EngineKind,
  options: {
    capabilities?: AnyElysia[];
    limits?: (db: TestDb) => RateLimits;
    metrics?: boolean;
    /** The outbound policy (default: no allowlist, so loopback receivers are refused). */
    outbound?: OutboundPolicy;
    /** The request-stream alert rules, as serve wires them. */
    alerts?: boolean;
    /** A tracer, as serve wires it with OTEL_EXPORTER_OTLP_ENDPOINT: request spans, the door's engine traced. */
    tracing?: Tracing;
    /** CAUSELOOP_PUBLIC_URL: the single sign-on flows' base URL. */
    publicUrl?: string;
  } = {},
): Promise<OwnerApp> {
  const db = await createTestDb(kind);
  const exportRoot = mkdtempSync(join(tmpdir(), "causeloop-harness-exports-"));
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const tenant = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "owner@acme.example" }, kek);
  const signer = await testSigner();
  const jwtSecret = new TextEncoder().encode("harness-jwt-secret-0123456789-0123456789");
  const links = exportLinks(jwtSecret, 15);
  const store = localStore(exportRoot, links);
  const rtbfKeys = { hmacKey: await importHmacKey("harness-rtbf-key"), signer };
  const logged: string[] = [];
  const logger: Logger = createLogger("warn", (line) => logged.push(line));
  const limits = options.limits?.(db);
  // As serve composes it with CAUSELOOP_METRICS_TOKEN set: the counters, the timed door and the route.
  const metrics = options.metrics
    ? createMetrics({
        pool: () => db.app.poolStats(),
        readout: () => db.app.probe(databaseReadout, 2_000),
        rateLimitStoreFailures: limits ? () => limits.limiter.counts.storeFailures : undefined,
      })
    : undefined;
  const engine = options.tracing ? options.tracing.engine(db.app) : db.app;
  const door = metrics ? metrics.timedDoor(tenantDoor(engine)) : tenantDoor(engine);
  const alerts = options.alerts ? requestAlerts(tenantDoor(db.app), logger) : undefined;
  const app = createApp({
    logger,
    tracing: options.tracing,
    readiness: async () => [],
    version: "t",
    bodyLimitBytes: 1 << 20,
    door,
    metrics,
    kek,
    signer,
    outbound: options.outbound,
    publicUrl: options.publicUrl,
    requestAlerts: alerts,
    rtbf: { keys: rtbfKeys, approve: (actor, id) => approve(db.app, rtbfKeys, store, actor, id) },
    exports: { links, store, door: tenantDoor(db.app) },
    sessions: {
      jwt: { current: jwtSecret, previous: undefined },
      anonymous: (fn) => withoutTenant(engine, fn),
      idleMinutes: 60,
      absoluteDays: 1,
    },
    capabilities: [
      ...(metrics ? [metricsRoutes(metrics, HARNESS_METRICS_TOKEN)] : []),
      ...(options.capabilities ?? []),
    ],
    limits,
  });
  // The owner sets a first password with the onboarding setup token and signs in: a session reaches every route.
  const post = (path: string, body: unknown) =>
    app.fetch(
      new Request(`http://localhost${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  const password = "harness-owner-password-1";
  const accepted = await post("/v1/auth/accept-invite", { invite_token: tenant.setup_token, password });
  if (accepted.status !== 200) throw new Error(`setup token refused: ${accepted.status} ${await accepted.text()}`);
  const signedIn = (await (await post("/v1/auth/login", { email: "owner@acme.example", password })).json()) as {
    access_token?: string;
  };
  if (!signedIn.access_token) throw new Error("the owner could not sign in");
  return {
    app,
    db,
    tenant,
    token: signedIn.access_token,
    logged,
    kek,
    signer,
    metrics,
    alerts,
    dispose: async () => {
      await db.dispose();
      rmSync(exportRoot, { recursive: true, force: true });
    },
  };
}

/** POSTs JSON and returns the parsed answer; a non-2xx answer throws (test setup must not fail silently). */
export async function postJson(
  app: HttpApp,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, string>> {
  const response = await app.fetch(
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    }),
  );
  const json = (await response.json()) as Record<string, string>;
  if (response.status >= 300) throw new Error(`setup ${path} -> ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Any request with an optional JSON body and bearer token; the answer's status, text and parsed JSON (or {}). */
export async function callJson(
  app: HttpApp,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const response = await app.fetch(
    new Request(`http://localhost${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

/** callJson as a bearer of `token`: the status and the parsed body (null when empty). */
export async function sendJson(app: HttpApp, method: string, path: string, token: string, body?: unknown) {
  const answer = await callJson(app, method, path, body, token);
  return { status: answer.status, json: (answer.text ? JSON.parse(answer.text) : null) as Record<string, unknown> };
}

/** One of every resource a path can name, created through the API in the token's workspace. */
export async function createResources(
  app: HttpApp,
  token: string,
  ids: IdBook,
  workspaceId: string,
  tag: string,
  db: TestDb,
): Promise<void> {
  const post = (path: string, body: unknown) => postJson(app, path, body, token);
  const getFirst = async (path: string) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${token}` } }),
    );
    const first = ((await response.json()) as { data: { id: string }[] }).data[0];
    if (!first) throw new Error(`setup: ${path} listed nothing`);
    return first.id;
  };
  ids.set("ws", workspaceId);
  // The webhook first: the creation then leaves a delivery for it (the dlv id).
  ids.set("whk", (await post("/v1/webhooks", { url: "https://hooks.example.com/x" })).id as string);
  ids.set("iss", (await post("/v1/issues", { title: `${tag} issue` })).id as string);
  // A change, so the timeline holds more than its creation.
  await app.fetch(
    new Request(`http://localhost/v1/issues/${ids.get("iss")}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ status: "investigating" }),
    }),
  );
  const deliveries = await app.fetch(
    new Request(`http://localhost/v1/webhooks/${ids.get("whk")}/deliveries`, {
      headers: { authorization: `Bearer ${token}` },
    }),
  );
  const delivery = ((await deliveries.json()) as { data: { id: string }[] }).data[0];
  if (!delivery) throw new Error("setup: the issue left no webhook delivery");
  ids.set("dlv", delivery.id);
  const connector = await post("/v1/connectors", {
    type: "sentry",
    display_name: `${tag} Sentry`,
    config: { api_token: "x" },
  });
  ids.set("con", connector.id as string);
  const sso = await post("/v1/sso-connections", {
    provider: "oidc",
    display_name: `${tag} IdP`,
    issuer: `https://idp.${tag}.example`,
    client_id: "causeloop",
    client_secret: "idp-client-secret",
  });
  ids.set("sso", sso.id as string);
  ids.set("mem", (await post("/v1/members", { email: `invitee@${tag}.example`, role: "viewer" })).member_id as string);
  ids.set("sa", (await post("/v1/service-accounts", { name: `${tag}-ci`, role: "viewer" })).id as string);
  ids.set("pat", (await post("/v1/tokens", { name: "spare", scopes: ["issues:read"] })).id as string);
  ids.set("ast", (await post("/v1/audit-streams", { url: "https://siem.example.com/collect" })).id as string);
  // A token with an admin scope raises a security alert (the alr id).
  await post("/v1/tokens", { name: "automation", scopes: ["members:write"] });
  const alerts = await app.fetch(
    new Request("http://localhost/v1/security-alerts?status=open", { headers: { authorization: `Bearer ${token}` } }),
  );
  const alert = ((await alerts.json()) as { data: { id: string }[] }).data[0];
  if (!alert) throw new Error("setup: the admin-scope token raised no security alert");
  ids.set("alr", alert.id);
  ids.set("rtbf", (await post("/v1/governance/rtbf/requests", { email: `subject@${tag}.example` })).id as string);
  ids.set("exp", (await post("/v1/governance/exports", {})).id as string);
  const inbound = await post("/v1/inbound-webhooks", { source: "generic" });
  ids.set(":path_token", (inbound.url as string).split("/").at(-1) as string);
  // A recurring problem: its cluster, then (refreshed through the API) its pattern, prediction and recommendation.
  ids.set("clu", await recurringProblem(db.app, workspaceId, tag));
  await post("/v1/predictions/refresh", {});
  ids.set("pmt", await getFirst("/v1/patterns"));
  ids.set("pre", await getFirst("/v1/predictions"));
  ids.set("rec", await getFirst("/v1/recommendations"));
  await createScimResources(app, token, ids, tag);
  await createAccessReview(app, token, ids);
  await createRelayResources(app, token, ids, workspaceId, tag, db);
}

/** A relay token (`rlt`) and the record of a query through a relay (`rlq`, written as the hub would). */
export async function createRelayResources(
  app: HttpApp,
  token: string,
  ids: IdBook,
  workspaceId: string,
  tag: string,
  db: TestDb,
): Promise<void> {
  const tokenId = (await postJson(app, "/v1/relay-tokens", { name: `${tag}-relay` }, token)).id as string;
  ids.set("rlt", tokenId);
  await db.owner.query(
    `insert into relay_sessions (workspace_id, id, token_id, instance_id, agent_version, disconnected_at)
     values ($1, $2, $3, $4, 'test', now())`,
    [workspaceId, newId("rls"), tokenId, newId("ins")],
  );
  const queryId = newId("rlq");
  await db.owner.query(
    `insert into relay_queries (workspace_id, id, connector_id, session_id, target_instance, status, finished_at)
     values ($1, $2, $3, $4, $5, 'succeeded', now())`,
    [workspaceId, queryId, ids.get("con"), newId("rls"), newId("ins")],
  );
  ids.set("rlq", queryId);
}

/** A completed access review (every line kept, so nothing is revoked): its id under `arv`, a line under `ari`. */
export async function createAccessReview(app: HttpApp, token: string, ids: IdBook): Promise<void> {
  const review = (await postJson(app, "/v1/access-reviews", {}, token)) as unknown as {
    id: string;
    lines: { id: string }[];
  };
  ids.set("arv", review.id);
  ids.set("ari", review.lines[0]?.id as string);
  const decisions = review.lines.map((l) => ({ item_id: l.id, decision: "keep" }));
  await postJson(app, `/v1/access-reviews/${review.id}/decisions`, { decisions }, token);
  await postJson(app, `/v1/access-reviews/${review.id}/complete`, {}, token);
}

/** The key of an IdBook entry holding the SCIM token that /scim/v2 requests authenticate with. */
export const SCIM_TOKEN = "scim_token";

/**
 * A SCIM token (its id under `sct`, a spare the token routes may rotate or revoke), another whose secret the
 * /scim/v2 requests use (under SCIM_TOKEN), and a provisioned user and group.
 */
export async function createScimResources(app: HttpApp, token: string, ids: IdBook, tag: string): Promise<void> {
  ids.set("sct", (await postJson(app, "/v1/scim-tokens", { name: `${tag} spare` }, token)).id as string);
  const scim = (await postJson(app, "/v1/scim-tokens", { name: `${tag} idp` }, token)).token as string;
  ids.set(SCIM_TOKEN, scim);
  ids.set("scu", (await postJson(app, "/scim/v2/Users", { userName: `scim.user@${tag}.example` }, scim)).id as string);
  const group = await postJson(
    app,
    "/scim/v2/Groups",
    { displayName: `${tag} viewers`, members: [{ value: ids.get("scu") }] },
    scim,
  );
  ids.set("scg", group.id as string);
}

/** Whether a route is SCIM's (authenticated by a SCIM token, answering application/scim+json). */
export const isScimRoute = (route: { path: string }) => route.path.startsWith("/scim/");

// ------------------------------------------------------------------ schemas

/** The JSON Schema subset TypeBox emits for our routes. */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  minItems?: number;
}

export interface RouteInfo {
  method: string;
  path: string;
  body?: Schema;
  query?: Schema;
  params?: Schema;
}

/** Every route of the app with the schemas it declares. */
export function routesOf(app: HttpApp): RouteInfo[] {
  return app.elysia.routes.map((route) => {
    const hooks = route.hooks as { body?: Schema; query?: Schema; params?: Schema };
    return { method: route.method, path: route.path, body: hooks.body, query: hooks.query, params: hooks.params };
  });
}

const ID_PATTERN = /^\^([a-z]+)_\[0-9a-z\]\{26\}\$$/;

/** The id prefix a path or body field expects (`^iss_[0-9a-z]{26}$` -> `iss`). */
export function idPrefixOf(schema: Schema | undefined): string | undefined {
  return schema?.pattern ? ID_PATTERN.exec(schema.pattern)?.[1] : undefined;
}

/** Real ids by prefix (created by the test), so requests reach the handler rather than a 404. */
export type IdBook = Map<string, string>;

const fakeId = (prefix: string) => `${prefix}_${"0".repeat(26)}`;

/** A value the schema accepts: the starting point every malformed variant changes one thing of. */
export function sampleOf(
  schema: Schema | undefined,
  ids: IdBook,
  options: { requiredOnly?: boolean; field?: string } = {},
): unknown {
  if (!schema) return undefined;
  if (schema.const !== undefined) return schema.const;
  // Elysia widens numbers to "number or numeric string"; the sample is the plain JSON kind.
  if (schema.anyOf?.length)
    return sampleOf(
      schema.anyOf.find((s) => s.type !== "null" && !(s.type === "string" && s.format)) ?? schema.anyOf[0],
      ids,
      options,
    );
  switch (schema.type) {
    case "object": {
      if (schema.patternProperties) return { key: "value" };
      const out: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if (!options.requiredOnly || schema.required?.includes(name))
          out[name] = sampleOf(property, ids, { field: name });
      }
      return out;
    }
    case "array":
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sampleOf(schema.items, ids));
    case "integer":
    case "number":
      return Math.max(1, schema.minimum ?? 1);
    case "boolean":
      return true;
    case "string":
      return sampleString(schema, ids, options.field);
    default:
      return "x";
  }
}

/** Field names whose acceptable values the schema cannot tell (checked by the service against a catalogue). */
const FIELD_SAMPLES: Record<string, string> = { type: "sentry" };

function sampleString(schema: Schema, ids: IdBook, field?: string): string {
  const prefix = idPrefixOf(schema);
  if (prefix) return ids.get(prefix) ?? fakeId(prefix);
  if (field && FIELD_SAMPLES[field]) return FIELD_SAMPLES[field];
  if (schema.format === "email") return `someone${Math.random().toString(36).slice(2, 8)}@example.com`;
  const candidates = ["sample-value-0123456789", "https://hooks.example.com/x", "issue.created"];
  const fitting = candidates.find((c) => !schema.pattern || new RegExp(schema.pattern).test(c)) ?? "x";
  return fitting.padEnd(schema.minLength ?? 0, "x").slice(0, schema.maxLength ?? Infinity);
}

/** Paths (as property-name lists) to every string-typed value in the sample, nested ones included. */
function stringPaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof value === "string") return [at];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringPaths(v, [...at, i]));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringPaths(v, [...at, k]));
  return [];
}

function fieldPaths(value: unknown): string[] {
  return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value) : [];
}

function withValue(sample: unknown, path: (string | number)[], value: unknown): unknown {
  if (!path.length) return value;
  const copy = structuredClone(sample) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1) as string | number] = value;
  return copy;
}

// ------------------------------------------------------------------ malformed inputs

export interface Variant {
  name: string;
  /** Raw request body text (JSON unless the name says otherwise). */
  body?: string;
  query?: string;
  path?: string;
}

export const DEEP_JSON = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
const DEEP_ARRAY = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
const BAD_TEXT: [string, string][] = [
  ["NUL", "a\u0000b"],
  ["lone high surrogate", "\ud800"],
  ["lone low surrogate", "x\udc00y"],
  ["oversized", "x".repeat(300_000)],
];

/** Bodies that each break one rule of the route's body schema (or of JSON itself). */
export function malformedBodies(schema: Schema | undefined, ids: IdBook): Variant[] {
  const sample = sampleOf(schema, ids) ?? {};
  const json = (value: unknown) => JSON.stringify(value);
  const variants: Variant[] = [
    { name: "valid sample", body: json(sample) },
    { name: "empty object", body: "{}" },
    { name: "array", body: "[]" },
    { name: "string", body: '"text"' },
    { name: "number", body: "42" },
    { name: "null", body: "null" },
    { name: "deep object (10000)", body: DEEP_JSON },
    { name: "deep array (10000)", body: DEEP_ARRAY },
    { name: "unknown field", body: json({ ...(sample as object), zz_unknown: 1 }) },
    { name: "__proto__ field", body: json(sample).replace(/^\{/, '{"__proto__":{"polluted":true},') },
    { name: "invalid JSON", body: '{"a":' },
    { name: "raw NUL byte in JSON", body: '{"a":"\u0000"}' },
    { name: "NUL key", body: json({ ...(sample as object), "k\u0000": "v" }) },
  ];
  for (const path of stringPaths(sample)) {
    const label = path.join(".");
    for (const [what, text] of BAD_TEXT)
      variants.push({ name: `${what} in ${label}`, body: json(withValue(sample, path, text)) });
    for (const date of BAD_DATES)
      variants.push({ name: `date ${date} in ${label}`, body: json(withValue(sample, path, date)) });
  }
  for (const field of fieldPaths(sample)) {
    const rest = { ...(sample as Record<string, unknown>) };
    delete rest[field];
    variants.push({ name: `missing ${field}`, body: json(rest) });
    for (const wrong of [12345, -1, 1e300, true, null, [], {}, "text", [1, "a"]])
      variants.push({ name: `${field} = ${json(wrong)}`, body: json(withValue(sample, [field], wrong)) });
    variants.push({
      name: `${field} deep (10000)`,
      body: json(withValue(sample, [field], 0)).replace(`"${field}":0`, `"${field}":${DEEP_JSON}`),
    });
  }
  return variants;
}

const BAD_DATES = [
  "0000-01-01",
  "99999-01-01",
  "2024-13-45",
  "-000001-01-01T00:00:00Z",
  "+275760-09-13T00:00:00Z",
  "2024-02-30",
];
const b64 = (text: string) => Buffer.from(text).toString("base64url");

/** Query strings with broken numbers, cursors, dates and text, for the route's declared query and the usual names. */
export function malformedQueries(schema: Schema | undefined, ids: IdBook): Variant[] {
  const names = new Set(["limit", "cursor", "since", "until", "from", "to", ...Object.keys(schema?.properties ?? {})]);
  // Only the required parameters: an optional one with a made-up value (a cursor) would mask the others.
  const validSample = sampleOf(schema, ids, { requiredOnly: true }) as Record<string, unknown> | undefined;
  const base = new URLSearchParams();
  for (const [name, value] of Object.entries(validSample ?? {}))
    if (typeof value !== "object") base.set(name, String(value));
  const q = (extra: string) => [base.toString(), extra].filter(Boolean).join("&");
  const id = ids.get("iss") ?? fakeId("iss");
  const variants: Variant[] = [{ name: "valid sample", query: base.toString() }];
  for (const limit of ["-1", "0", "999999", "1e9", "%2010", "1%200", "abc", "1.5", "0x10", "9".repeat(40), "%00", ""])
    variants.push({ name: `limit=${limit}`, query: q(`limit=${limit}`) });
  variants.push({ name: "limit twice", query: q("limit=1&limit=2") });
  variants.push({ name: "limit[]", query: q("limit[]=1") });
  for (const [what, cursor] of [
    ["garbage", "garbage!!"],
    ["year 0", b64(`0000-01-01T00:00:00.000Z|${id}`)],
    ["year 99999", b64(`+099999-01-01T00:00:00.000Z|${id}`)],
    ["month 13", b64(`2024-13-45T00:00:00.000Z|${id}`)],
    ["NUL id", b64(`2024-01-01T00:00:00.000Z|iss_\u0000`)],
    ["NUL", "%00"],
    ["invalid bytes", b64("\xff\xfe|\xff")],
    ["huge number", "9".repeat(19)],
    ["negative", "-1"],
  ] as const) {
    variants.push({ name: `cursor ${what}`, query: q(`cursor=${cursor}`) });
  }
  for (const name of names) {
    for (const date of BAD_DATES)
      variants.push({ name: `${name}=${date}`, query: q(`${encodeURIComponent(name)}=${encodeURIComponent(date)}`) });
    for (const [what, raw] of [
      ["NUL", "%00"],
      ["lone surrogate (CESU bytes)", "%ED%A0%80"],
      ["invalid UTF-8", "%FF%FE"],
      ["broken escape", "%E0%A4%A"],
      ["space", "%20"],
      ["emoji", "%F0%9F%92%A9"],
      ["oversized", "x".repeat(5000)],
    ] as const) {
      variants.push({ name: `${name} ${what}`, query: q(`${encodeURIComponent(name)}=${raw}`) });
    }
  }
  return variants;
}

/** A path parameter's value: an id of its kind, or what the test recorded under `:name` (a webhook's path token). */
function idFor(route: RouteInfo, name: string, ids: IdBook): string | undefined {
  const prefix = idPrefixOf(route.params?.properties?.[name]);
  return prefix ? (ids.get(prefix) ?? fakeId(prefix)) : ids.get(`:${name}`);
}

/** The route's path with real ids where it has parameters; undefined when a parameter's id kind is unknown. */
export function concretePath(route: RouteInfo, ids: IdBook): string | undefined {
  let unknown = false;
  const path = route.path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const id = idFor(route, name, ids);
    if (!id) unknown = true;
    return id ?? "x";
  });
  return unknown ? undefined : path;
}

/** Path parameters that are no id at all (one parameter at a time; the others keep their real ids). */
export function malformedPaths(route: RouteInfo, ids: IdBook): Variant[] {
  const names = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] as string);
  const variants: Variant[] = [];
  for (const target of names) {
    for (const [what, raw] of [
      ["NUL", "%00"],
      ["prefixed NUL", "iss_%00"],
      ["emoji", "%F0%9F%92%A9"],
      ["lone surrogate bytes", "%ED%A0%80"],
      ["invalid UTF-8", "%FF"],
      ["broken escape", "%E0%A4%A"],
      ["oversized", "a".repeat(5000)],
      ["dot segments", ".."],
      ["encoded slash", "a%2Fb"],
      ["SQL", "'%20or%201=1--"],
    ] as const) {
      const path = route.path.replace(/:([A-Za-z_]+)/g, (_, name: string) =>
        name === target ? raw : (idFor(route, name, ids) ?? "x"),
      );
      variants.push({ name: `:${target} ${what}`, path });
    }
  }
  return variants;
}
