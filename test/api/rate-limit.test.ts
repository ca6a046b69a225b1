// Rate limits as a client sees them: the RateLimit fields on every limited answer, a 429 problem with
// Retry-After past the budget, per credential, per workspace (with the owner's own budget) and per address for
// requests without a credential; budgets shared by two instances on one database; a failing store lets reads
// through and refuses writes with 503, never a 500. Every route driven past its limit answers the same way.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DEFAULT_LIMITS, type RateLimits } from "../../src/http/app.ts";
import { localLimiter, sharedLimiter, type BucketStore } from "../../src/http/edge/rate-limit.ts";
import { withoutTenant } from "../../src/db/tenant.ts";
import { rateLimitsOn, reserveTokens } from "../../src/tenancy/limits.ts";
import { createLogger, silentLogger } from "../../src/log.ts";
import { describeEngines } from "../helpers/db.ts";
import { loadContract, type Contract } from "../helpers/contract.ts";
import {
  concretePath,
  createResources,
  isScimRoute,
  ownerApp,
  routesOf,
  sampleOf,
  SCIM_TOKEN,
  type IdBook,
  type OwnerApp,
} from "../helpers/routes.ts";

describe("token buckets", () => {
  test("a budget of 5 a minute: 5 pass, the 6th waits 12 s, and the bucket refills with time", async () => {
    let now = 1_000_000;
    const limiter = localLimiter(() => now);
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push(await limiter.take("credential", "pat_1", 5, false));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, true, true, false]);
    expect(verdicts[4]).toMatchObject({ remaining: 0, limit: 5 });
    expect(verdicts[5]?.retryAfter).toBe(12);
    expect((await limiter.take("credential", "pat_2", 5, false)).allowed).toBe(true); // another key
    now += 12_000;
    expect((await limiter.take("credential", "pat_1", 5, false)).allowed).toBe(true);
    expect((await limiter.take("credential", "pat_1", 5, false)).allowed).toBe(false);
  });

  test("a failing shared store: reads pass (logged, counted), writes are a 503, never a 500", async () => {
    const lines: string[] = [];
    const broken: BucketStore = {
      reserve: async () => {
        throw new Error("connection refused");
      },
    };
    const limiter = sharedLimiter(
      broken,
      createLogger("warn", (l) => lines.push(l)),
    );
    expect((await limiter.take("credential", "pat_1", 10, false)).allowed).toBe(true);
    await expect(limiter.take("credential", "pat_1", 10, true)).rejects.toMatchObject({ code: "database_unreachable" });
    expect(limiter.counts.storeFailures).toBe(2);
    expect(lines.join("\n")).toContain("ratelimit.store_failed");
  });
});

describeEngines("rate limits", (kind) => {
  let h: OwnerApp;
  let contract: Contract;
  let limits: RateLimits;
  const ids: IdBook = new Map();
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { response, text: await response.text() };
  };
  const pat = async () => {
    const { text } = await call("POST", "/v1/tokens", h.token, { name: `t${Math.random()}`, scopes: ["issues:read"] });
    return (JSON.parse(text) as { token: string }).token;
  };

  beforeAll(async () => {
    // As serve composes them (shared buckets on PostgreSQL), with budgets the tests change as they go.
    h = await ownerApp(kind, {
      limits: (db) => {
        limits = rateLimitsOn(
          db.app,
          kind,
          { perCredential: 1000, perWorkspace: 1000, perAddress: 1000 },
          silentLogger,
        );
        return limits;
      },
    });
    contract = await loadContract(h.app);
    await createResources(h.app, h.token, ids, h.tenant.workspace_id, "acme", h.db);
  });
  afterAll(() => h.dispose());

  test("per credential: the fields on every answer, then a 429 problem with Retry-After; another token goes on", async () => {
    limits.limiter = localLimiter();
    limits.perCredential = 3;
    const token = await pat();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call("GET", "/v1/issues", token));
    expect(answers.map((a) => a.response.status)).toEqual([200, 200, 200, 429]);
    const first = answers[0]?.response.headers as Headers;
    expect(first.get("ratelimit-policy")).toBe('"credential";q=3;w=60, "workspace";q=1000;w=60');
    expect(first.get("ratelimit")).toMatch(/^"credential";r=2;t=\d+, "workspace";r=\d+;t=\d+$/);
    expect([first.get("x-ratelimit-limit"), first.get("x-ratelimit-remaining")]).toEqual(["3", "2"]);
    const refused = answers[3] as { response: Response; text: string };
    expect(refused.response.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(refused.response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.response.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(JSON.parse(refused.text)).toMatchObject({ code: "rate_limited", policy: "credential" });
    expect(
      contract.check("GET", "/v1/issues", 429, refused.response.headers.get("content-type"), refused.text),
    ).toEqual([]);
    expect((await call("GET", "/v1/issues", await pat())).response.status).toBe(200);
    limits.perCredential = 1000;
  });

  test("per workspace: all its credentials together; the owner sets the workspace's own budget, an admin may not", async () => {
    limits.limiter = localLimiter();
    const own = await call("PATCH", "/v1/workspace/rate-limit", h.token, { per_minute: 4 });
    expect(JSON.parse(own.text)).toEqual({ per_minute: 4, effective_per_minute: 4, per_credential_per_minute: 1000 });
    const [a, b] = [await pat(), await pat()];
    const statuses = [];
    for (const token of [a, b, a, b, a]) statuses.push((await call("GET", "/v1/issues", token)).response.status);
    // The owner's own requests above (the PATCH, two token creations) count too: 4 in all before these.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const refused = await call("GET", "/v1/issues", a);
    expect(JSON.parse(refused.text)).toMatchObject({ code: "rate_limited", policy: "workspace" });
    limits.limiter = localLimiter();
    const cleared = await call("PATCH", "/v1/workspace/rate-limit", h.token, { per_minute: null });
    expect(JSON.parse(cleared.text)).toMatchObject({ per_minute: null, effective_per_minute: 1000 });
    const audit = await h.db.owner.query<{ action: string }>(
      "select action from audit_log where workspace_id = $1 and action = 'workspace.rate_limit_changed'",
      [h.tenant.workspace_id],
    );
    expect(audit).toHaveLength(2);
    const invite = JSON.parse(
      (await call("POST", "/v1/members", h.token, { email: "admin@acme.example", role: "admin" })).text,
    );
    await call("POST", "/v1/auth/accept-invite", undefined, {
      invite_token: invite.invite_token,
      password: "acme-admin-password-1",
    });
    const admin = JSON.parse(
      (
        await call("POST", "/v1/auth/login", undefined, {
          email: "admin@acme.example",
          password: "acme-admin-password-1",
        })
      ).text,
    ).access_token as string;
    const denied = await call("PATCH", "/v1/workspace/rate-limit", admin, { per_minute: 999999 });
    expect(denied.response.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({ reason: "owner_required" });
    expect((await call("GET", "/v1/workspace/rate-limit", admin)).response.status).toBe(200);
  });

  test("without a credential, per address: sign-in routes and anonymous calls share the address's budget", async () => {
    limits.limiter = localLimiter();
    limits.perAddress = 3;
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (
          await call("POST", "/v1/auth/login", undefined, {
            email: `x${i}@spray.example`,
            password: "wrong-password-1",
          })
        ).response.status,
      );
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await call("GET", "/v1/issues")).response.status).toBe(429); // anonymous, same address
    expect((await call("GET", "/healthz")).response.status).toBe(200); // the probes are never limited
    expect((await call("GET", "/v1/issues", h.token)).response.status).toBe(200); // a credential has its own budget
    limits.perAddress = 1000;
  });

  test("every route driven past its limit answers 429 with the RateLimit fields, as the contract documents", async () => {
    limits.limiter = localLimiter();
    limits.perCredential = 1;
    limits.perAddress = 1;
    await call("GET", "/v1/me", h.token); // spends the credential's one request
    await call("GET", "/scim/v2/ServiceProviderConfig", ids.get(SCIM_TOKEN)); // and the SCIM token's
    await call("GET", "/v1/nothing"); // spends the address's one request
    await call("POST", `/v1/hooks/${ids.get(":path_token")}`, undefined, {}); // an inbound webhook's URL: its own
    const wrong: string[] = [];
    const exempt = new Set(["/healthz", "/readyz", "/openapi.json", "/docs", "/docs/init.js", "/docs/scalar.js"]);
    for (const route of routesOf(h.app).filter((r) => !exempt.has(r.path))) {
      const path = concretePath(route, ids) ?? route.path;
      const body = ["POST", "PATCH", "PUT"].includes(route.method) ? (sampleOf(route.body, ids) ?? {}) : undefined;
      const publicRoute =
        route.path.startsWith("/v1/auth/") ||
        route.path.includes("/download") ||
        route.path.includes("public-key") ||
        route.path.includes("jwks") ||
        route.path === "/v1/relay/connect";
      const token = publicRoute ? undefined : isScimRoute(route) ? ids.get(SCIM_TOKEN) : h.token;
      const { response, text } = await call(route.method, path, token, body);
      const label = `${route.method} ${route.path}`;
      if (response.status !== 429) wrong.push(`${label} -> ${response.status}`);
      else if (!response.headers.get("ratelimit") || !response.headers.get("retry-after"))
        wrong.push(`${label}: 429 without RateLimit / Retry-After`);
      wrong.push(
        ...contract.check(route.method, route.path, response.status, response.headers.get("content-type"), text),
      );
    }
    expect(wrong).toEqual([]);
    Object.assign(limits, { perCredential: 1000, perAddress: 1000 });
  });

  test("two instances on one database share a budget through rate_limit_reserve", async () => {
    const store: BucketStore = {
      reserve: (key, limit, period, want) =>
        withoutTenant(h.db.app, (tx) => reserveTokens(tx, key, limit, period, want)),
    };
    const one = sharedLimiter(store, silentLogger);
    const two = sharedLimiter(store, silentLogger);
    const subject = `shared-${kind}-${Date.now()}`;
    let allowed = 0;
    for (let i = 0; i < 30; i++)
      if ((await (i % 2 ? one : two).take("credential", subject, 40, false)).allowed) allowed++;
    for (let i = 0; i < 30; i++)
      if ((await (i % 2 ? two : one).take("credential", subject, 40, false)).allowed) allowed++;
    // 40 in the bucket (each instance reserves slices of 2): never more than the budget, at most one slice each short.
    expect(allowed).toBeLessThanOrEqual(40);
    expect(allowed).toBeGreaterThanOrEqual(36);
    const [row] = await h.db.owner.query<{ n: number }>("select count(*)::int as n from rate_limit_buckets");
    expect(row?.n).toBeGreaterThan(0);
    // The runtime role reaches the buckets only through the function.
    await expect(withoutTenant(h.db.app, (tx) => tx.query("select * from rate_limit_buckets"))).rejects.toThrow();
  });

  test("defaults are the seed's: 1000 a minute per credential", () => {
    expect(DEFAULT_LIMITS.perCredential).toBe(1000);
  });
});
