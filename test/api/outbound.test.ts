// SSRF and secrets in user-given URLs, as an attacker would try them: a tenant admin stores a key-set URL
// pointing inside the server's network and anyone calls the public exchange to make the server fetch it;
// URLs carrying user:password@ leak through responses and the audit trail. The attacker fails (the
// loopback receiver counts zero requests, nothing echoes the credentials); the operator-allowlisted
// exchange still works, and anonymous calls cannot make the server fetch again and again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { newId } from "../../src/ids.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { apiDeps } from "../helpers/app.ts";

const CREDENTIAL = "hunter2pass";

describeEngines("outbound requests to user-given URLs", (kind) => {
  let db: TestDb;
  let strict: HttpApp;
  let allowlisted: HttpApp;
  let acme: OnboardResult;
  let beta: OnboardResult;
  let gamma: OnboardResult;
  let keys: ReturnType<typeof Bun.serve>;
  let privateKey: CryptoKey;
  let strangerKey: CryptoKey;
  const hits = new Map<string, number>();
  const issuer = "https://idp.example.test/";

  const call = async (app: HttpApp, method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    );
    const text = await response.text();
    return { status: response.status, text, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  const idToken = (email: string, key = privateKey, kid = "test-key") =>
    new SignJWT({ email, email_verified: true })
      .setProtectedHeader({ alg: "RS256", kid })
      .setIssuer(issuer)
      .setAudience("causeloop")
      .setSubject("idp|1")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(key);
  const exchange = async (app: HttpApp, ws: OnboardResult, token: string) =>
    (await call(app, "POST", "/v1/auth/exchange", { token, workspace_id: ws.workspace_id })).status;
  const keyUrl = (path: string) => `http://127.0.0.1:${keys.port}${path}`;
  const sso = (jwksUrl: string) => ({
    provider: "jwt",
    display_name: "IdP",
    issuer,
    audience: "causeloop",
    jwks_url: jwksUrl,
  });

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey as CryptoKey;
    strangerKey = (await generateKeyPair("RS256")).privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
    keys = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => {
        const path = new URL(request.url).pathname;
        hits.set(path, (hits.get(path) ?? 0) + 1);
        return path === "/broken" ? new Response("upstream down", { status: 500 }) : Response.json({ keys: [jwk] });
      },
    });
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    beta = await onboard(db.owner, { slug: "beta", name: "Beta", adminEmail: "ops@beta.com" }, kek);
    gamma = await onboard(db.owner, { slug: "gamma", name: "Gamma", adminEmail: "ops@gamma.com" }, kek);
    const deps = apiDeps(db, kek);
    strict = createApp(deps);
    allowlisted = createApp({ ...deps, outbound: outboundPolicy({ allowlist: "127.0.0.1" }) });
  });
  afterAll(async () => {
    keys.stop(true);
    await db.dispose();
  });

  test("URLs with credentials, plain http or a blocked address are refused with 422; the credentials appear nowhere", async () => {
    const attempts: [string, unknown, RegExp][] = [
      ["/v1/webhooks", { url: `https://admin:${CREDENTIAL}@hooks.example.com/x` }, /^url must not contain credentials/],
      [
        "/v1/sso-connections",
        sso(`https://admin:${CREDENTIAL}@idp.example.com/jwks`),
        /^jwks_url must not contain credentials/,
      ],
      ["/v1/webhooks", { url: "http://hooks.example.com/x" }, /^url must use https/],
      ["/v1/webhooks", { url: "https://169.254.169.254/latest/meta-data/" }, /link-local/],
      ["/v1/webhooks", { url: "https://2130706433/x" }, /points to 127\.0\.0\.1, a loopback address/],
      ["/v1/sso-connections", sso("https://[::ffff:10.0.0.1]/jwks"), /private \(IPv4 inside IPv6\)/],
      ["/v1/sso-connections", sso(`https://localhost:${keys.port}/jwks`), /loopback name/],
      ["/v1/sso-connections", sso(keyUrl("/jwks")), /must use https/],
    ];
    for (const [path, body, detail] of attempts) {
      const refused = await call(strict, "POST", path, body, acme.admin_token);
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ code: "validation_failed", detail: expect.stringMatching(detail) });
      expect(refused.text).not.toContain(CREDENTIAL);
    }
    expect(
      (await call(strict, "POST", "/v1/webhooks", { url: "https://hooks.example.com/ok" }, acme.admin_token)).status,
    ).toBe(201);
    expect((await call(strict, "GET", "/v1/webhooks", undefined, acme.admin_token)).text).not.toContain(CREDENTIAL);
    const stored = await db.owner.query<{ n: number }>(
      "select (select count(*) from webhooks where url like $1)::int + (select count(*) from sso_connections where jwks_url like $1)::int + (select count(*) from audit_log where coalesce(after::text, '') || coalesce(before::text, '') like $1)::int as n",
      [`%${CREDENTIAL}%`],
    );
    expect(stored[0]?.n).toBe(0);
  });

  test("a webhook URL stored with credentials before the check is redacted whenever it is read", async () => {
    const id = newId("whk");
    await db.owner.query("insert into webhooks (workspace_id, id, url) values ($1, $2, $3)", [
      acme.workspace_id,
      id,
      `https://admin:${CREDENTIAL}@hooks.example.com/legacy`,
    ]);
    const one = await call(strict, "GET", `/v1/webhooks/${id}`, undefined, acme.admin_token);
    expect(one.body.url).toBe("https://redacted@hooks.example.com/legacy");
    const list = await call(strict, "GET", "/v1/webhooks", undefined, acme.admin_token);
    expect(list.text).toContain("https://redacted@hooks.example.com/legacy");
    expect(list.text + one.text).not.toContain(CREDENTIAL);
  });

  test("without the allowlist a stored loopback key-set URL is never fetched: the exchange is refused, the receiver sees zero requests", async () => {
    // Rows as a tenant admin could store them before this check (or by any other way round it).
    for (const url of [
      keyUrl("/attack"),
      `https://127.0.0.1:${keys.port}/attack`,
      `https://localhost:${keys.port}/attack`,
      `http://[::ffff:127.0.0.1]:${keys.port}/attack`,
      `https://2130706433:${keys.port}/attack`,
      `https://admin:${CREDENTIAL}@127.0.0.1:${keys.port}/attack`,
    ]) {
      await db.owner.query(
        "insert into sso_connections (workspace_id, id, provider, display_name, issuer, audience, jwks_url) values ($1, $2, 'jwt', 'Rogue', $3, 'causeloop', $4)",
        [acme.workspace_id, newId("sso"), issuer, url],
      );
    }
    const token = await idToken("ops@acme.com");
    for (let i = 0; i < 10; i++) expect(await exchange(strict, acme, token)).toBe(401);
    expect(hits.get("/attack") ?? 0).toBe(0);
  });

  test("with 127.0.0.1 allowlisted the exchange works, and 50 anonymous calls fetch the key set at most twice", async () => {
    // Just-in-time provisioning: the identity (idp|1) gets a new account bound to this connection on first use.
    expect(
      (
        await call(
          allowlisted,
          "POST",
          "/v1/sso-connections",
          { ...sso(keyUrl("/beta")), jit_provisioning: true },
          beta.admin_token,
        )
      ).status,
    ).toBe(201);
    expect(await exchange(allowlisted, beta, await idToken("newcomer@beta.com"))).toBe(200);
    // Unknown key ids are what would make a naive key set refetch on every call.
    const stranger = await idToken("newcomer@beta.com", strangerKey, "rotated-key");
    const valid = await idToken("newcomer@beta.com");
    for (let i = 0; i < 49; i++)
      expect(await exchange(allowlisted, beta, i % 2 ? valid : stranger)).toBe(i % 2 ? 200 : 401);
    expect(hits.get("/beta")).toBeGreaterThanOrEqual(1);
    expect(hits.get("/beta")).toBeLessThanOrEqual(2);
  });

  test("a key set that fails to load is not fetched again on every anonymous call", async () => {
    expect(
      (await call(allowlisted, "POST", "/v1/sso-connections", sso(keyUrl("/broken")), gamma.admin_token)).status,
    ).toBe(201);
    const token = await idToken("ops@gamma.com");
    for (let i = 0; i < 50; i++) expect(await exchange(allowlisted, gamma, token)).toBe(401);
    expect(hits.get("/broken")).toBeGreaterThanOrEqual(1);
    expect(hits.get("/broken")).toBeLessThanOrEqual(2);
  });
});
