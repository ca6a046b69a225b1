// IdP token exchange against a JWKS served by the test itself: an identity linked by its member gets tokens; an
// unknown person is refused unless just-in-time provisioning is on; wrong audience, expiry or algorithm fail.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("IdP token exchange", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  let jwks: ReturnType<typeof Bun.serve>;
  let privateKey: CryptoKey;
  const issuer = "https://idp.example.test/";
  const post = async (path: string, body: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const idToken = (
    claims: Record<string, unknown>,
    options: {
      audience?: string;
      expires?: string | number;
      key?: CryptoKey | Uint8Array;
      alg?: string;
      subject?: string;
    } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: options.alg ?? "RS256", kid: "test-key" })
      .setIssuer(issuer)
      .setAudience(options.audience ?? "causeloop")
      .setSubject(options.subject ?? "idp|123")
      .setIssuedAt()
      .setExpirationTime(options.expires ?? "5m")
      .sign(options.key ?? privateKey);

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
    jwks = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys: [jwk] }) });
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    app = createApp(apiDeps(db, kek, { outbound: outboundPolicy({ allowlist: "127.0.0.1" }) }));
    const sso = await post(
      "/v1/sso-connections",
      {
        provider: "jwt",
        display_name: "Test IdP",
        issuer,
        audience: "causeloop",
        jwks_url: `http://127.0.0.1:${jwks.port}/jwks`,
      },
      acme.admin_token,
    );
    expect(sso.status).toBe(201);
  });
  afterAll(async () => {
    jwks.stop(true);
    await db.dispose();
  });

  test("an existing member is signed in only after linking the identity while signed in with the password", async () => {
    const token = await idToken({ email: "Ops@Acme.com", email_verified: true });
    expect((await post("/v1/auth/exchange", { token, workspace_id: acme.workspace_id })).status).toBe(401);
    expect(
      (await post("/v1/auth/accept-invite", { invite_token: acme.setup_token, password: "exchange-owner-password" }))
        .status,
    ).toBe(200);
    const login = await post("/v1/auth/login", { email: "ops@acme.com", password: "exchange-owner-password" });
    expect((await post("/v1/me/identities", { token }, acme.admin_token)).status).toBe(403);
    const linked = await post("/v1/me/identities", { token }, login.body.access_token as string);
    expect(linked.status).toBe(201);
    expect(linked.body).toMatchObject({ issuer, subject: "idp|123" });
    const exchanged = await post("/v1/auth/exchange", {
      token: await idToken({ email: "ops@acme.com", email_verified: true }),
      workspace_id: acme.workspace_id,
    });
    expect(exchanged.status).toBe(200);
    const me = await app.fetch(
      new Request("http://localhost/v1/me", { headers: { authorization: `Bearer ${exchanged.body.access_token}` } }),
    );
    expect((await me.json()) as { actor: { email: string }; role: string }).toMatchObject({
      actor: { email: "ops@acme.com" },
      role: "owner",
    });
  });

  test("wrong audience, expired, unverified email, HS256 or another workspace are refused", async () => {
    const cases = [
      await idToken({ email: "ops@acme.com", email_verified: true }, { audience: "someone-else" }),
      await idToken({ email: "ops@acme.com", email_verified: true }, { expires: Math.floor(Date.now() / 1000) - 60 }),
      await idToken({ email: "ops@acme.com", email_verified: false }),
      await idToken(
        { email: "ops@acme.com", email_verified: true },
        { alg: "HS256", key: new TextEncoder().encode("symmetric-secret-symmetric-secret-0123") },
      ),
    ];
    for (const token of cases)
      expect((await post("/v1/auth/exchange", { token, workspace_id: acme.workspace_id })).status).toBe(401);
    expect(
      (
        await post("/v1/auth/exchange", {
          token: await idToken({ email: "ops@acme.com", email_verified: true }),
          workspace_id: "ws_00000000000000000000000000",
        })
      ).status,
    ).toBe(401);
  });

  test("an unknown person is refused, then provisioned just in time with the default role once enabled", async () => {
    const token = await idToken({ email: "newcomer@acme.com", email_verified: true }, { subject: "idp|newcomer" });
    expect((await post("/v1/auth/exchange", { token, workspace_id: acme.workspace_id })).status).toBe(401);
    await db.owner.query(
      "update sso_connections set jit_provisioning = true, default_role = 'analyst' where workspace_id = $1",
      [acme.workspace_id],
    );
    const provisioned = await post("/v1/auth/exchange", { token, workspace_id: acme.workspace_id });
    expect(provisioned.status).toBe(200);
    expect(provisioned.body.role).toBe("analyst");
    const audit = await db.owner.query<{ action: string }>(
      "select action from audit_log where workspace_id = $1 and action = 'member.provisioned'",
      [acme.workspace_id],
    );
    expect(audit).toHaveLength(1);
  });
});
