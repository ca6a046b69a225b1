// Identity end to end through the API on both engines: an onboarding admin invites an analyst, who logs
// in (with MFA after enrolling), works on issues, is refused admin routes, cannot mint a stronger token;
// refresh rotation with reuse detection; token attacks; throttling; and no plaintext credential stored.
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as OTPAuth from "otpauth";
import { SignJWT, UnsecuredJWT } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import type { JwtKeys } from "../../src/identity/jwt.ts";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

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
  // An inbound webhook's receiving URL: authenticated by its signature (test/api/ingestion.test.ts).
  "POST /v1/hooks/:path_token",
]);

describeEngines("identity", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  const secret = new TextEncoder().encode("test-jwt-secret-0123456789-0123456789-abcdef");
  const jwt: JwtKeys = { current: secret, previous: undefined };
  const plaintexts: string[] = [];
  const call = async (path: string, init: { method?: string; body?: unknown; token?: string; ip?: string } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method: init.method ?? (init.body ? "POST" : "GET"),
        body: init.body ? JSON.stringify(init.body) : undefined,
        headers,
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    const signer = await testSigner();
    app = createApp(apiDeps(db, kek, { signer, jwt }));
    plaintexts.push(acme.admin_token as string);
  });
  afterAll(() => db.dispose());

  test("every route but the short public list requires credentials", async () => {
    const routes = app.elysia.routes.map((r) => `${r.method} ${r.path}`);
    const open: string[] = [];
    for (const route of routes) {
      if (PUBLIC.has(route)) continue;
      const [method, path] = route.split(" ") as [string, string];
      const concrete = path.replace(/:id/g, "iss_00000000000000000000000000");
      const response = await app.fetch(
        new Request(`http://localhost${concrete}`, {
          method,
          headers: { "content-type": "application/json" },
          body: ["POST", "PATCH", "PUT", "DELETE"].includes(method) ? "{}" : undefined,
        }),
      );
      if (response.status !== 401) open.push(`${route} -> ${response.status}`);
    }
    expect(open).toEqual([]);
  });

  test("invite an analyst, who logs in with MFA, works on issues, is refused admin routes and cannot mint a stronger token", async () => {
    const invite = await call("/v1/members", {
      token: acme.admin_token,
      body: { email: "Ana@Acme.com", role: "analyst" },
    });
    expect(invite.status).toBe(201);
    const inviteToken = invite.body.invite_token as string;
    plaintexts.push(inviteToken);
    expect(
      (await call("/v1/auth/accept-invite", { body: { invite_token: inviteToken, password: "password1234" } })).status,
    ).toBe(422);
    const password = "correct-horse-battery-9";
    plaintexts.push(password);
    expect((await call("/v1/auth/accept-invite", { body: { invite_token: inviteToken, password } })).status).toBe(200);
    expect((await call("/v1/auth/accept-invite", { body: { invite_token: inviteToken, password } })).status).toBe(401);

    const first = await call("/v1/auth/login", { body: { email: "ana@acme.com", password } });
    expect(first.status).toBe(200);
    const access = first.body.access_token as string;
    expect((await call("/v1/me", { token: access })).body).toMatchObject({
      role: "analyst",
      actor: { email: "ana@acme.com" },
    });

    // MFA enrolment, confirmed with a first code; the secret and recovery codes are shown once.
    const enrol = await call("/v1/me/mfa/totp", { token: access, body: {} });
    expect(String(enrol.body.otpauth_uri)).toStartWith("otpauth://totp/");
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.body.secret as string),
      digits: 6,
      period: 30,
    });
    plaintexts.push(enrol.body.secret as string);
    const confirmed = await call("/v1/me/mfa/totp/confirm", { token: access, body: { code: totp.generate() } });
    expect(confirmed.status).toBe(200);
    const recovery = confirmed.body.recovery_codes as string[];
    expect(recovery).toHaveLength(10);
    plaintexts.push(...recovery);

    const second = await call("/v1/auth/login", { body: { email: "ana@acme.com", password } });
    expect(second.body).toMatchObject({ mfa_required: true });
    const mfaToken = second.body.mfa_token as string;
    expect((await call("/v1/auth/mfa/verify", { body: { mfa_token: mfaToken, code: "000000" } })).status).toBe(401);
    const verified = await call("/v1/auth/mfa/verify", {
      body: { mfa_token: mfaToken, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
    });
    expect(verified.status).toBe(200);
    const token = verified.body.access_token as string;
    plaintexts.push(verified.body.refresh_token as string);
    const viaRecovery = await call("/v1/auth/mfa/verify", { body: { mfa_token: mfaToken, code: recovery[0] } });
    expect(viaRecovery.status).toBe(200);
    expect((await call("/v1/auth/mfa/verify", { body: { mfa_token: mfaToken, code: recovery[0] } })).status).toBe(401); // used once

    const issue = await call("/v1/issues", { token, body: { title: "Queue backlog" } });
    expect(issue.status).toBe(201);
    expect((await call(`/v1/issues/${issue.body.id}`, { token })).status).toBe(200);
    for (const [path, body] of [
      ["/v1/audit", undefined],
      ["/v1/governance/retention", undefined],
      ["/v1/governance/rtbf/requests", { email: "x@example.com" }],
      ["/v1/governance/exports", {}],
      ["/v1/members", { email: "x@acme.com", role: "viewer" }],
      ["/v1/connectors", { type: "sentry", display_name: "x", config: {} }],
    ] as const) {
      const refused = await call(path, { token, body });
      expect(refused.status).toBe(403);
    }

    const tooStrong = await call("/v1/tokens", { token, body: { name: "ci", scopes: ["issues:read", "audit:read"] } });
    expect(tooStrong.status).toBe(403);
    const pat = await call("/v1/tokens", { token, body: { name: "ci", scopes: ["issues:read"], expires_in_days: 30 } });
    expect(pat.status).toBe(201);
    const patToken = pat.body.token as string;
    plaintexts.push(patToken);
    expect((await call("/v1/issues", { token: patToken })).status).toBe(200);
    expect((await call("/v1/issues", { token: patToken, body: { title: "nope" } })).status).toBe(403);
    const listed = await call("/v1/tokens", { token });
    expect(JSON.stringify(listed.body)).not.toContain(patToken);
    expect((await call(`/v1/tokens/${pat.body.id}`, { token, method: "DELETE" })).status).toBe(204);
    expect((await call("/v1/issues", { token: patToken })).status).toBe(401); // revoked: at once
  });

  test("refresh tokens rotate; reusing a rotated one revokes the whole family", async () => {
    const invite = await call("/v1/members", {
      token: acme.admin_token,
      body: { email: "rita@acme.com", role: "viewer" },
    });
    await call("/v1/auth/accept-invite", {
      body: { invite_token: invite.body.invite_token, password: "rotating-refresh-77" },
    });
    const login = await call("/v1/auth/login", { body: { email: "rita@acme.com", password: "rotating-refresh-77" } });
    const r1 = login.body.refresh_token as string;
    const rotated = await call("/v1/auth/refresh", { body: { refresh_token: r1 } });
    expect(rotated.status).toBe(200);
    const r2 = rotated.body.refresh_token as string;
    expect(r2).not.toBe(r1);
    expect((await call("/v1/auth/refresh", { body: { refresh_token: r1 } })).status).toBe(401);
    expect((await call("/v1/auth/refresh", { body: { refresh_token: r2 } })).status).toBe(401); // family revoked
    expect((await call("/v1/me", { token: rotated.body.access_token as string })).status).toBe(401);
  });

  test("bad tokens are the same 401; a removed member's token stops at once; the last owner stays", async () => {
    const base = { ws: acme.workspace_id, role: "owner", scopes: ["issues:read"], sid: "ses_x", typ: "access" };
    const expired = await new SignJWT(base)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(acme.user_id as string)
      .setIssuer("causeloop")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret);
    const wrongKey = await new SignJWT(base)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(acme.user_id as string)
      .setIssuer("causeloop")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("another-secret-another-secret-another-secret"));
    const none = new UnsecuredJWT(base)
      .setSubject(acme.user_id as string)
      .setIssuer("causeloop")
      .setExpirationTime("5m")
      .encode();
    const shapes = new Set<string>();
    for (const bad of [undefined, "garbage", expired, wrongKey, none, "eyJhbGciOiJIUzI1NiJ9.e30.x"]) {
      const response = await call("/v1/issues", { token: bad });
      expect(response.status).toBe(401);
      shapes.add(`${response.body.code}|${response.body.title}`);
    }
    expect(shapes.size).toBe(1);

    const invite = await call("/v1/members", {
      token: acme.admin_token,
      body: { email: "leaver@acme.com", role: "analyst" },
    });
    await call("/v1/auth/accept-invite", {
      body: { invite_token: invite.body.invite_token, password: "leaving-soon-12345" },
    });
    const login = await call("/v1/auth/login", { body: { email: "leaver@acme.com", password: "leaving-soon-12345" } });
    const token = login.body.access_token as string;
    expect((await call("/v1/issues", { token })).status).toBe(200);
    expect(
      (await call(`/v1/members/${invite.body.member_id}`, { token: acme.admin_token, method: "DELETE" })).status,
    ).toBe(204);
    expect((await call("/v1/issues", { token })).status).toBe(401);

    const members = (await call("/v1/members", { token: acme.admin_token })).body.data as unknown as {
      id: string;
      role: string;
    }[];
    const owner = members.find((m) => m.role === "owner") as { id: string };
    expect(
      (await call(`/v1/members/${owner.id}`, { token: acme.admin_token, method: "PATCH", body: { role: "admin" } }))
        .status,
    ).toBe(409);
    expect((await call(`/v1/members/${owner.id}`, { token: acme.admin_token, method: "DELETE" })).status).toBe(409);
  });

  test("failed logins are throttled per account with a growing delay, and audited", async () => {
    // No client address here (no socket): the account level alone applies, 10 failures then growing delays.
    const answers: { status: number; body: Record<string, unknown> }[] = [];
    for (let i = 0; i < 12; i++)
      answers.push(await call("/v1/auth/login", { body: { email: "ops@acme.com", password: `wrong-password-${i}` } }));
    expect(answers.slice(0, 10).map((a) => a.status)).toEqual(Array(10).fill(401));
    const refused = answers.slice(10).filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect([1, 2]).toContain(Number(r.body.retry_after));
    const unknown = await call("/v1/auth/login", { body: { email: "nobody@acme.com", password: "whatever-password" } });
    expect(unknown.status).toBe(401);
    expect(unknown.body.detail).toBe("email or password is incorrect");
    const failures = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from audit_log where workspace_id = $1 and action = 'auth.login_failed'",
      [acme.workspace_id],
    );
    expect(failures[0]?.n).toBeGreaterThanOrEqual(10);
  });

  test("no plaintext password, token, refresh token, recovery code or TOTP secret is stored anywhere", async () => {
    const columns = await db.owner.query<{ t: string; c: string }>(
      "select table_name::text as t, column_name::text as c from information_schema.columns where table_schema = current_schema() and data_type in ('text', 'jsonb', 'ARRAY')",
    );
    const leaks: string[] = [];
    for (const { t, c } of columns) {
      const rows = await db.owner.query<{ v: string | null }>(`select "${c}"::text as v from "${t}"`);
      for (const row of rows) for (const p of plaintexts) if (p && row.v?.includes(p)) leaks.push(`${t}.${c}`);
    }
    expect(plaintexts.length).toBeGreaterThan(14);
    expect(leaks).toEqual([]);
  });
});
