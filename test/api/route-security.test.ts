// The route security harness: every route of the app, enumerated from the app itself (never a hand list),
// gets the four door checks on both engines. No credentials: 401. A viewer (the lowest role) on a route
// whose scope it lacks: 403. Another workspace's resource id in the path: 404, and nothing of that workspace
// changes. A soft-offboarded workspace: 403 workspace_disabled. A new route fails here until it is public,
// known to the viewer fixture, or reachable with an id of a kind the fixtures create.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { onboard } from "../../src/tenancy/service.ts";
import { describeEngines } from "../helpers/db.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import {
  concretePath,
  createResources,
  isScimRoute,
  ownerApp,
  SCIM_TOKEN,
  postJson,
  routesOf,
  sampleOf,
  type IdBook,
  type OwnerApp,
  type RouteInfo,
} from "../helpers/routes.ts";

/** Routes anyone may call: they authenticate by what they carry (or serve public documents). */
const PUBLIC = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /openapi.json",
  "GET /openapi",
  "GET /docs",
  "GET /docs/init.js",
  "GET /docs/scalar.js",
  "GET /.well-known/jwks.json",
  "GET /v1/audit/public-key",
  "POST /v1/auth/login",
  "POST /v1/auth/refresh",
  "POST /v1/auth/logout",
  "POST /v1/auth/mfa/verify",
  "POST /v1/auth/accept-invite",
  "POST /v1/auth/exchange",
  "GET /v1/auth/sso/:id/start",
  "GET /v1/auth/sso/:id/callback",
  "GET /v1/auth/sso/:id/metadata",
  "POST /v1/auth/sso/:id/acs",
  "GET /v1/exports/:id/download",
  "GET /metrics",
  // An inbound webhook's receiving URL: the path token names it and the signature proves the sender
  // (test/api/ingestion.test.ts: no, wrong and stale signatures are 401, another workspace's token 404).
  "POST /v1/hooks/:path_token",
  // The relay's WebSocket: a relay token is its only credential (test/api/relay.test.ts: none, a PAT or a
  // revoked relay token is 401).
  "GET /v1/relay/connect",
]);

/** What a viewer (issues, members, settings, connectors and webhooks read; its own account) may reach. */
const VIEWER_ALLOWED = new Set([
  "GET /v1/me",
  "POST /v1/me/password",
  "POST /v1/me/mfa/totp",
  "POST /v1/me/mfa/totp/confirm",
  "POST /v1/me/mfa/totp/disable",
  "POST /v1/me/identities",
  "GET /v1/workspace/security",
  "GET /v1/workspace/rate-limit",
  "GET /v1/members",
  "GET /v1/service-accounts",
  "GET /v1/issues",
  "GET /v1/issues/:id",
  "GET /v1/issues/:id/activity",
  "GET /v1/connectors/catalogue",
  "GET /v1/connectors",
  "GET /v1/connectors/:id",
  "GET /v1/connector-types",
  "GET /v1/webhooks",
  "GET /v1/webhooks/:id",
  "GET /v1/webhooks/:id/deliveries",
  "GET /v1/inbound-webhooks",
  "GET /v1/sso-connections",
  "GET /v1/clusters",
  "GET /v1/clusters/:id",
  "GET /v1/patterns",
  "GET /v1/patterns/:id",
  "GET /v1/predictions",
  "GET /v1/predictions/:id",
  "GET /v1/recommendations",
  "GET /v1/recommendations/:id",
  "GET /v1/sso-connections/:id",
  "GET /v1/relays",
  "GET /v1/workspace/sso-policy",
  "POST /v1/sso-connections/:id/link",
]);

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
/**
 * Reads checked elsewhere: the documentation itself, downloads (test/api/export.test.ts builds one first), the
 * metrics, which take the operator's metrics token rather than a user's credential (test/api/metrics.test.ts),
 * the single sign-on flows, which go to a real IdP (test/api/sso-oidc.test.ts, test/api/sso-saml.test.ts), and the
 * relay's socket, which takes a relay token (test/api/relay.test.ts).
 */
const NOT_READ_HERE = new Set([
  "/v1/auth/sso/:id/start",
  "/v1/auth/sso/:id/callback",
  "/v1/auth/sso/:id/metadata",
  "/metrics",
  "/openapi.json",
  "/openapi",
  "/docs",
  "/docs/init.js",
  "/docs/scalar.js",
  "/v1/exports/:id/download",
  "/v1/relay/connect",
]);

describeEngines("route security harness", (kind) => {
  let h: OwnerApp;
  let viewer: string;
  let bravoToken: string;
  const acmeIds: IdBook = new Map();
  let contract: Contract;
  const undocumented: string[] = [];
  const bravoIds: IdBook = new Map();

  const send = async (route: RouteInfo, path: string, token: string | undefined, ids: IdBook) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (BODY_METHODS.has(route.method)) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(sampleOf(route.body, ids) ?? {});
    }
    const response = await h.app.fetch(new Request(`http://localhost${path}`, { method: route.method, headers, body }));
    const text = await response.text();
    undocumented.push(
      ...contract.check(route.method, route.path, response.status, response.headers.get("content-type"), text),
    );
    // JSON answers and problems carry a code; a stream (NDJSON, an archive) is checked by the contract above.
    const json = /^application\/(problem\+|scim\+)?json/.test(response.headers.get("content-type") ?? "");
    const problem = (json && text.startsWith("{") ? JSON.parse(text) : {}) as {
      code?: string;
      detail?: string;
      required_scope?: string;
      schemas?: string[];
    };
    // A SCIM error has no catalogue code: the disabled workspace is told by its detail.
    const scimCode = problem.schemas?.includes(SCIM_ERROR)
      ? problem.detail?.includes("disabled")
        ? "workspace_disabled"
        : `scim_${response.status}`
      : "";
    return {
      status: response.status,
      code: problem.code ?? scimCode,
      /** Refused at the door: no valid credentials (401) or a scope the caller lacks (403). */
      doorRefused:
        (response.status === 401 &&
          (problem.detail === "missing, malformed, expired or revoked credentials" ||
            problem.detail === "missing, malformed or revoked SCIM token")) ||
        (response.status === 403 && problem.required_scope !== undefined),
    };
  };
  const post = (path: string, body: unknown, token?: string) => postJson(h.app, path, body, token);
  const signIn = async (email: string, setupOrInvite: string, password: string) => {
    await post("/v1/auth/accept-invite", { invite_token: setupOrInvite, password });
    return (await post("/v1/auth/login", { email, password })).access_token as string;
  };
  const resources = (token: string, ids: IdBook, workspaceId: string, tag: string) =>
    createResources(h.app, token, ids, workspaceId, tag, h.db);
  /** A fingerprint of everything a workspace holds in the tables a route can change. */
  const fingerprint = async (workspaceId: string) => {
    const tables = [
      "issues",
      "connectors",
      "webhooks",
      "memberships",
      "service_accounts",
      "personal_access_tokens",
      "rtbf_requests",
      "export_jobs",
      "workspace_settings",
      "sso_connections",
      "inbound_webhooks",
      "ingested_events",
      "activity_events",
      "scim_tokens",
      "scim_users",
      "scim_groups",
      "access_reviews",
      "access_review_items",
      "sso_identities",
      "relay_tokens",
      "relay_queries",
    ];
    const parts: string[] = [];
    for (const table of tables) {
      const [row] = await h.db.owner.query<{ f: string | null }>(
        `select md5(string_agg(t::text, ',' order by t.id)) as f from ${table} t where workspace_id = $1`,
        [workspaceId],
      );
      parts.push(`${table}:${row?.f ?? "-"}`);
    }
    return parts.join(" ");
  };
  const protectedRoutes = () => routesOf(h.app).filter((r) => !PUBLIC.has(`${r.method} ${r.path}`));

  beforeAll(async () => {
    h = await ownerApp(kind, { metrics: true });
    contract = await loadContract(h.app);
    await resources(h.token, acmeIds, h.tenant.workspace_id, "acme");
    const bravo = await onboard(h.db.owner, { slug: "bravo", name: "Bravo", adminEmail: "owner@bravo.example" });
    bravoToken = await signIn("owner@bravo.example", bravo.setup_token as string, "bravo-owner-password-1");
    await resources(bravoToken, bravoIds, bravo.workspace_id, "bravo");
    const invite = await post("/v1/members", { email: "viewer@acme.example", role: "viewer" }, h.token);
    viewer = await signIn("viewer@acme.example", invite.invite_token as string, "acme-viewer-password-1");
  });
  afterAll(() => h.dispose());

  test("every protected route answers 401 without credentials", async () => {
    const wrong: string[] = [];
    for (const route of protectedRoutes()) {
      const path = concretePath(route, acmeIds) ?? route.path;
      const answer = await send(route, path, undefined, acmeIds);
      if (answer.status !== 401) wrong.push(`${route.method} ${route.path} -> ${answer.status}`);
    }
    expect(wrong).toEqual([]);
  });

  test("a viewer gets 403 on every route whose scope it lacks, and is let through on the rest", async () => {
    const wrong: string[] = [];
    for (const route of protectedRoutes()) {
      const label = `${route.method} ${route.path}`;
      const path = concretePath(route, acmeIds);
      if (!path) {
        wrong.push(`${label}: no fixture id for its path`);
        continue;
      }
      const answer = await send(route, path, viewer, acmeIds);
      // /scim/v2 takes a SCIM token only: a session (or a PAT) is not a credential there at all.
      if (isScimRoute(route)) {
        if (!(answer.status === 401 && answer.doorRefused))
          wrong.push(`${label}: a session got ${answer.status} on SCIM`);
        continue;
      }
      const allowed = VIEWER_ALLOWED.has(label);
      if (allowed && answer.doorRefused)
        wrong.push(`${label}: viewer refused at the door (${answer.status} ${answer.code})`);
      if (!allowed && !(answer.status === 403 && answer.doorRefused))
        wrong.push(`${label}: viewer got ${answer.status} ${answer.code}, expected 403 for a missing scope`);
    }
    expect(wrong).toEqual([]);
  });

  test("a SCIM token is no credential on any other route (401), as no other credential is on /scim (above)", async () => {
    const wrong: string[] = [];
    for (const route of protectedRoutes().filter((r) => !isScimRoute(r))) {
      const path = concretePath(route, acmeIds) ?? route.path;
      const answer = await send(route, path, acmeIds.get(SCIM_TOKEN), acmeIds);
      if (answer.status !== 401) wrong.push(`${route.method} ${route.path} -> ${answer.status} ${answer.code}`);
    }
    expect(wrong).toEqual([]);
  });

  test("another workspace's id in the path is 404 on every route, and that workspace does not change", async () => {
    const before = await fingerprint(bravoIds.get("ws") as string);
    const wrong: string[] = [];
    const idRoutes = protectedRoutes().filter((r) => r.path.includes(":"));
    expect(idRoutes.length).toBeGreaterThan(10);
    for (const route of idRoutes) {
      const path = concretePath(route, bravoIds);
      if (!path) {
        wrong.push(`${route.method} ${route.path}: no fixture id for its path`);
        continue;
      }
      const answer = await send(
        route,
        path,
        isScimRoute(route) ? (acmeIds.get(SCIM_TOKEN) as string) : h.token,
        acmeIds,
      );
      if (answer.status !== 404) wrong.push(`${route.method} ${route.path} -> ${answer.status} ${answer.code}`);
    }
    expect(wrong).toEqual([]);
    expect(await fingerprint(bravoIds.get("ws") as string)).toBe(before);
  });

  test("a soft-offboarded workspace answers 403 workspace_disabled on every protected route", async () => {
    const bravoSession = bravoToken;
    await h.db.owner.query("select offboard_client('bravo', 'soft', 'harness')");
    const wrong: string[] = [];
    for (const route of protectedRoutes()) {
      const path = concretePath(route, bravoIds) ?? route.path;
      const answer = await send(
        route,
        path,
        isScimRoute(route) ? (bravoIds.get(SCIM_TOKEN) as string) : bravoSession,
        bravoIds,
      );
      if (answer.status !== 403 || answer.code !== "workspace_disabled")
        wrong.push(`${route.method} ${route.path} -> ${answer.status} ${answer.code}`);
    }
    expect(wrong).toEqual([]);
  });

  test("the owner reads every GET route (public ones too) with a success the contract documents", async () => {
    const wrong: string[] = [];
    // A certificate exists once an erasure completed: one goes through verification and approval first.
    const erased = (await post("/v1/governance/rtbf/requests", { email: "erased@acme.example" }, h.token)).id;
    await post(`/v1/governance/rtbf/requests/${erased}/verify`, {}, h.token);
    await post(`/v1/governance/rtbf/requests/${erased}/approve`, {}, h.token);
    for (const route of routesOf(h.app).filter((r) => r.method === "GET" && !NOT_READ_HERE.has(r.path))) {
      const ids = route.path.startsWith("/v1/governance/rtbf/")
        ? new Map([...acmeIds, ["rtbf", erased as string]])
        : acmeIds;
      const path = concretePath(route, ids) ?? route.path;
      const answer = await send(route, path, isScimRoute(route) ? (acmeIds.get(SCIM_TOKEN) as string) : h.token, ids);
      if (answer.status !== 200) wrong.push(`GET ${route.path} -> ${answer.status} ${answer.code}`);
    }
    expect(wrong).toEqual([]);
  });

  test("every answer above is one the OpenAPI contract documents, with the documented body", () => {
    expect([...new Set(undocumented)]).toEqual([]);
  });
});
