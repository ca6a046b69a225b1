// The route security harness: every route of the app, enumerated from the app itself (never a hand list),
// gets the four door checks on both engines. No credentials: 401. A viewer (the lowest role) on a route
// whose scope it lacks: 403. Another workspace's resource id in the path: 404, and nothing of that workspace
// changes. A soft-offboarded workspace: 403 workspace_disabled. A new route fails here until it is public,
// known to the viewer fixture, or reachable with an id of a kind the fixtures create.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { onboard } from "../../src/tenancy/service.ts";
import { describeEngines } from "../helpers/db.ts";
import {
  concretePath,
  ownerApp,
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
  "GET /.well-known/jwks.json",
  "GET /v1/audit/public-key",
  "POST /v1/auth/login",
  "POST /v1/auth/refresh",
  "POST /v1/auth/logout",
  "POST /v1/auth/mfa/verify",
  "POST /v1/auth/accept-invite",
  "POST /v1/auth/exchange",
  "GET /v1/exports/:id/download",
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
  "GET /v1/members",
  "GET /v1/service-accounts",
  "GET /v1/issues",
  "GET /v1/issues/:id",
  "GET /v1/connectors",
  "GET /v1/connectors/:id",
  "GET /v1/connector-types",
  "GET /v1/webhooks",
  "GET /v1/webhooks/:id",
  "GET /v1/inbound-webhooks",
  "GET /v1/sso-connections",
]);

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

describeEngines("route security harness", (kind) => {
  let h: OwnerApp;
  let viewer: string;
  let bravoToken: string;
  const acmeIds: IdBook = new Map();
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
    const problem = (text.startsWith("{") ? JSON.parse(text) : {}) as {
      code?: string;
      detail?: string;
      required_scope?: string;
    };
    return {
      status: response.status,
      code: problem.code ?? "",
      /** Refused at the door: no valid credentials (401) or a scope the caller lacks (403). */
      doorRefused:
        (response.status === 401 && problem.detail === "missing, malformed, expired or revoked credentials") ||
        (response.status === 403 && problem.required_scope !== undefined),
    };
  };
  const post = async (path: string, body: unknown, token?: string) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      }),
    );
    const json = (await response.json()) as Record<string, string>;
    if (response.status >= 300) throw new Error(`setup ${path} -> ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const signIn = async (email: string, setupOrInvite: string, password: string) => {
    await post("/v1/auth/accept-invite", { invite_token: setupOrInvite, password });
    return (await post("/v1/auth/login", { email, password })).access_token as string;
  };
  /** One of every resource a path can name, created through the API in the token's workspace. */
  const resources = async (token: string, ids: IdBook, workspaceId: string, tag: string) => {
    ids.set("ws", workspaceId);
    ids.set("iss", (await post("/v1/issues", { title: `${tag} issue` }, token)).id as string);
    ids.set(
      "con",
      (
        await post(
          "/v1/connectors",
          { type: "sentry", display_name: `${tag} Sentry`, config: { api_token: "x" } },
          token,
        )
      ).id as string,
    );
    ids.set("whk", (await post("/v1/webhooks", { url: "https://hooks.example.com/x" }, token)).id as string);
    ids.set(
      "mem",
      (await post("/v1/members", { email: `invitee@${tag}.example`, role: "viewer" }, token)).member_id as string,
    );
    ids.set("sa", (await post("/v1/service-accounts", { name: `${tag}-ci`, role: "viewer" }, token)).id as string);
    ids.set("pat", (await post("/v1/tokens", { name: "spare", scopes: ["issues:read"] }, token)).id as string);
    ids.set(
      "rtbf",
      (await post("/v1/governance/rtbf/requests", { email: `subject@${tag}.example` }, token)).id as string,
    );
    ids.set("exp", (await post("/v1/governance/exports", {}, token)).id as string);
  };
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
    h = await ownerApp(kind);
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
      const allowed = VIEWER_ALLOWED.has(label);
      if (allowed && answer.doorRefused)
        wrong.push(`${label}: viewer refused at the door (${answer.status} ${answer.code})`);
      if (!allowed && !(answer.status === 403 && answer.doorRefused))
        wrong.push(`${label}: viewer got ${answer.status} ${answer.code}, expected 403 for a missing scope`);
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
      const answer = await send(route, path, h.token, acmeIds);
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
      const answer = await send(route, path, bravoSession, bravoIds);
      if (answer.status !== 403 || answer.code !== "workspace_disabled")
        wrong.push(`${route.method} ${route.path} -> ${answer.status} ${answer.code}`);
    }
    expect(wrong).toEqual([]);
  });
});
