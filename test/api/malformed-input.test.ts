// No malformed input ever yields a 5xx. Every route of the app (enumerated, not listed by hand) gets, as an
// owner: bodies with NUL and lone surrogates in every string field, wrong types, missing and unknown fields,
// 10000-deep JSON and oversized strings; query strings with broken limits, cursors and dates; path ids with
// NUL, invalid UTF-8 and unicode. Every answer must be below 500, and every error a problem document.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import type { Engine } from "../../src/db/engine.ts";
import { ERROR_CATALOGUE } from "../../src/errors.ts";
import { describeEngines } from "../helpers/db.ts";
import { loadContract } from "../helpers/contract.ts";
import {
  concretePath,
  createAccessReview,
  createScimResources,
  isScimRoute,
  malformedBodies,
  malformedPaths,
  malformedQueries,
  ownerApp,
  routesOf,
  sampleOf,
  SCIM_TOKEN,
  type IdBook,
  type OwnerApp,
  type RouteInfo,
  type Variant,
} from "../helpers/routes.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
// Answers that mean the request never got past the door: a route answering only these was not exercised.
const NOT_EXERCISED = new Set(["unauthorized", "forbidden", "method_not_allowed"]);

const SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
/** SCIM answers in its own error schema: its status names the code (401 is still not past the door). */
const SCIM_CODES: Record<string, string> = {
  "401": "unauthorized",
  "403": "forbidden",
  "404": "not_found",
  "405": "method_not_allowed",
};

/** The error as a catalogue code: a problem document's, or a SCIM error's status read as one. */
function problemOf(response: { type: string; text: string }): { code?: string; detail?: string } | undefined {
  if (response.type.includes("problem+json")) return JSON.parse(response.text) as { code?: string; detail?: string };
  if (!response.type.includes("scim+json")) return undefined;
  const error = JSON.parse(response.text) as { schemas?: string[]; status?: string; detail?: string };
  if (!error.schemas?.includes(SCIM_ERROR) || !error.status) return undefined;
  return { code: SCIM_CODES[error.status] ?? "bad_request", detail: error.detail };
}

describeEngines("malformed input never yields a 5xx", (kind) => {
  let h: OwnerApp;
  const ids: IdBook = new Map();

  const send = async (method: string, path: string, body: string | undefined, token: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await h.app.fetch(new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await response.text();
    return { status: response.status, type: response.headers.get("content-type") ?? "", text };
  };
  const create = async (path: string, body: unknown, key = "id") => {
    const response = await send("POST", path, JSON.stringify(body), h.token);
    if (response.status >= 300) throw new Error(`setup ${path} -> ${response.status} ${response.text}`);
    return (JSON.parse(response.text) as Record<string, string>)[key] as string;
  };

  beforeAll(async () => {
    h = await ownerApp(kind);
    // Real resources of every kind a path names, so requests reach the handlers rather than stop at a 404.
    ids.set("ws", h.tenant.workspace_id);
    ids.set("iss", await create("/v1/issues", { title: "Harness issue" }));
    ids.set(
      "con",
      await create("/v1/connectors", { type: "sentry", display_name: "Sentry", config: { api_token: "x" } }),
    );
    ids.set("whk", await create("/v1/webhooks", { url: "https://hooks.example.com/x" }));
    ids.set("mem", await create("/v1/members", { email: "invitee@acme.example", role: "viewer" }, "member_id"));
    ids.set("sa", await create("/v1/service-accounts", { name: "ci", role: "viewer" }));
    ids.set("pat", await create("/v1/tokens", { name: "spare", scopes: ["issues:read"] }));
    ids.set("rtbf", await create("/v1/governance/rtbf/requests", { email: "subject@example.com" }));
    ids.set("exp", await create("/v1/governance/exports", {}));
    ids.set(
      ":path_token",
      (await create("/v1/inbound-webhooks", { source: "generic" }, "url")).split("/").at(-1) as string,
    );
    await createScimResources(h.app, h.token, ids, "acme");
    await createAccessReview(h.app, h.token, ids);
  });
  afterAll(() => h.dispose());

  test("every route, every malformed input: no 5xx, errors are problem documents, no route left out", async () => {
    const failures: string[] = [];
    const unexercised: string[] = [];
    const undocumented: string[] = [];
    const contract = await loadContract(h.app);
    const catalogue = new Set(Object.keys(ERROR_CATALOGUE));
    for (const route of routesOf(h.app)) {
      const label = `${route.method} ${route.path}`;
      const path = concretePath(route, ids);
      if (!path) {
        unexercised.push(`${label}: a path parameter has no known id kind`);
        continue;
      }
      let exercised = false;
      for (const variant of variantsFor(route, ids)) {
        const target = `${variant.path ?? path}${variant.query ? `?${variant.query}` : ""}`;
        const body = BODY_METHODS.has(route.method) ? (variant.body ?? "{}") : undefined;
        const token = isScimRoute(route) ? (ids.get(SCIM_TOKEN) as string) : h.token;
        const response = await send(route.method, target, body, token);
        undocumented.push(...contract.check(route.method, route.path, response.status, response.type, response.text));
        const code = response.status >= 400 ? problemOf(response) : undefined;
        if (response.status >= 500)
          failures.push(`${label} [${variant.name}] -> ${response.status} ${response.text.slice(0, 200)}`);
        else if (response.status >= 400 && !(code?.code && catalogue.has(code.code)))
          failures.push(`${label} [${variant.name}] -> ${response.status} without a problem document`);
        const noRoute = code?.code === "not_found" && code.detail?.startsWith("no route");
        if (response.status < 400 || (code?.code && !NOT_EXERCISED.has(code.code) && !noRoute)) exercised = true;
      }
      if (!exercised) unexercised.push(`${label}: every request was refused before reaching it`);
    }
    expect({ failures, unexercised, undocumented: [...new Set(undocumented)] }).toEqual({
      failures: [],
      unexercised: [],
      undocumented: [],
    });
    // A 5xx is always logged; nothing else may have been logged as an unexpected failure either.
    expect(h.logged.filter((line) => line.includes('"request.failed"'))).toEqual([]);
  }, 900_000);
});

describeEngines("malformed input: what the caller is told", (kind) => {
  let h: OwnerApp;
  let engine: Engine | undefined;
  // A capability whose query PostgreSQL refuses (year 0): the error handler's last line of defence.
  const unvalidated = new Elysia({ name: "unvalidated" }).get("/test/unvalidated-date", () =>
    engine?.query("select $1::timestamptz as at", ["0000-01-01T00:00:00Z"]),
  );
  const call = async (path: string, init: { method?: string; body?: string; token?: string | null } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? h.token}`;
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method: init.method ?? (init.body ? "POST" : "GET"),
        headers,
        body: init.body,
      }),
    );
    return {
      status: response.status,
      body: (await response.json()) as { code?: string; detail?: string; data?: unknown[] },
    };
  };

  beforeAll(async () => {
    h = await ownerApp(kind, { capabilities: [unvalidated] });
    engine = h.db.app;
  });
  afterAll(() => h.dispose());

  test("NUL and lone surrogates are a 422 naming the field (login included, unauthenticated), never echoing it", async () => {
    const login = await call("/v1/auth/login", {
      body: JSON.stringify({ email: "ops\u0000@acme.example", password: "secret-password-1" }),
      token: null,
    });
    expect(login).toMatchObject({ status: 422, body: { code: "validation_failed" } });
    expect(login.body.detail).toContain("body.email");
    expect(login.body.detail).not.toContain("acme.example");
    const issue = await call("/v1/issues", { body: '{"title":"broken \\ud800 title"}' });
    expect(issue).toMatchObject({ status: 422, body: { code: "validation_failed" } });
    expect(issue.body.detail).toContain("body.title");
    expect((await call("/v1/governance/compliance-log?kind=%00")).body.detail).toContain("query.kind");
    // Text that is merely unusual is stored as given.
    const fine = await call("/v1/issues", { body: JSON.stringify({ title: "Ünïcödé 💩 ok" }) });
    expect(fine.status).toBe(201);
  });

  test("page sizes are numbers within the maximum; dates and cursors outside years 1..9999 are 422", async () => {
    for (let i = 0; i < 3; i++) await call("/v1/issues", { body: JSON.stringify({ title: `Issue ${i}` }) });
    for (const limit of ["999999", "201", "0", "-1", "1e9", "1%200", "abc"])
      expect({ limit, status: (await call(`/v1/issues?limit=${limit}`)).status }).toEqual({ limit, status: 422 });
    expect((await call("/v1/issues?limit=2")).body.data).toHaveLength(2);
    expect((await call("/v1/audit?limit=501")).status).toBe(422);
    expect((await call("/v1/governance/compliance-log?limit=501")).status).toBe(422);
    const id = "iss_00000000000000000000000000";
    for (const at of ["0000-01-01T00:00:00.000Z", "+099999-01-01T00:00:00.000Z", "2024-13-45T00:00:00.000Z"]) {
      const cursor = Buffer.from(`${at}|${id}`).toString("base64url");
      expect((await call(`/v1/issues?cursor=${cursor}`)).status).toBe(422);
      expect((await call(`/v1/governance/compliance-log?cursor=${cursor}`)).status).toBe(422);
    }
    for (const date of ["0000-01-01", "99999-01-01", "2024-13-45", "2024-02-30"]) {
      expect((await call(`/v1/issues?created_after=${date}`)).body.detail).toContain("created_after");
      expect((await call(`/v1/audit?from=${date}`)).status).toBe(422);
    }
    expect((await call("/v1/issues?created_after=2024-02-29T10:00:00%2B02:00")).status).toBe(200);
  });

  test("a body nested 10000 deep is refused before it is parsed, even without credentials", async () => {
    const deep = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    for (const token of [undefined, null]) {
      const response = await call("/v1/issues", { body: `{"title":${deep}}`, token });
      expect(response).toMatchObject({ status: 422, body: { code: "validation_failed" } });
    }
    const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    expect(
      (
        await call("/v1/connectors", {
          body: JSON.stringify({ type: "sentry", display_name: "S", config: { x: 1 } }).replace('{"x":1}', nested(20)),
        })
      ).status,
    ).toBe(201);
  });

  test("a value PostgreSQL refuses (SQLSTATE class 22) is a 422, not a 500, and is logged for the missing validation", async () => {
    const response = await call("/test/unvalidated-date");
    expect(response).toMatchObject({ status: 422, body: { code: "validation_failed" } });
    expect(response.body.detail).toContain("SQLSTATE 22");
    expect(h.logged.some((line) => line.includes('"request.database_error"') && line.includes('"sqlstate":"22'))).toBe(
      true,
    );
  });
});

function variantsFor(route: RouteInfo, ids: IdBook): Variant[] {
  const queries = malformedQueries(route.query, ids);
  // Routes without a query schema ignore the query string: a short battery shows they keep doing so.
  const battery = route.query || route.method === "GET" ? queries : queries.slice(0, 8);
  if (!BODY_METHODS.has(route.method)) return [...battery, ...malformedPaths(route, ids)];
  // Query and path variants carry an acceptable body, so that only the one malformed part can be the problem.
  const body = JSON.stringify(sampleOf(route.body, ids) ?? {});
  return [
    ...malformedBodies(route.body, ids),
    ...[...battery, ...malformedPaths(route, ids)].map((v) => ({ ...v, body })),
  ];
}
