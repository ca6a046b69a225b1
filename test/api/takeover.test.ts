// Account takeover across tenants, written as the attacks: tenant A's admin goes after tenant V's owner (an
// invitation, A's own identity provider), a leaked narrow token tries to become the whole account, a password
// alone tries to skip the account's second factor in another workspace, and a stolen session outlives a
// password change. Each attack fails; the legitimate path next to it still works. Both engines.
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as OTPAuth from "otpauth";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { SecretBox } from "../../src/secrets/envelope.ts";
import { addWorkspace, offboard, onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

type Body = Record<string, unknown>;

describeEngines("account takeover", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let victim: OnboardResult;
  let attacker: OnboardResult;
  let jwks: ReturnType<typeof Bun.serve>;
  let idpKey: CryptoKey;
  let kek: LocalKeyRing;
  const VICTIM_EMAIL = "owner@victim.example";
  const VICTIM_PASSWORD = "victim-owner-password-1";
  const ATTACKER_PASSWORD = "attacker-chosen-password-1";

  const call = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await app.fetch(
      new Request(`http://localhost${path}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        headers,
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Body };
  };
  const login = (email: string, password: string, workspace_id?: string) =>
    call("/v1/auth/login", { body: { email, password, ...(workspace_id ? { workspace_id } : {}) } });
  const idToken = (subject: string, email: string) =>
    new SignJWT({ email, email_verified: true })
      .setProtectedHeader({ alg: "RS256", kid: "evil" })
      .setIssuer("https://idp.attacker.example/")
      .setAudience("causeloop")
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(idpKey);

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    idpKey = pair.privateKey as CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "evil", alg: "RS256", use: "sig" };
    jwks = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ keys: [jwk] }) });
    db = await createTestDb(kind);
    kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    victim = await onboard(db.owner, { slug: "victim", name: "Victim", adminEmail: VICTIM_EMAIL }, kek);
    attacker = await onboard(
      db.owner,
      { slug: "attacker", name: "Attacker", adminEmail: "boss@attacker.example" },
      kek,
    );
    app = createApp(apiDeps(db, kek, { outbound: outboundPolicy({ allowlist: "127.0.0.1" }) }));
  });
  afterAll(async () => {
    jwks.stop(true);
    await db.dispose();
  });

  test("an invitation from another tenant cannot set the password of an existing account that has none", async () => {
    // The victim's owner was onboarded with a token only: no password yet.
    const invite = await call("/v1/members", {
      token: attacker.admin_token,
      body: { email: VICTIM_EMAIL, role: "viewer" },
    });
    expect(invite.status).toBe(201);
    const accepted = await call("/v1/auth/accept-invite", {
      body: { invite_token: invite.body.invite_token, password: ATTACKER_PASSWORD },
    });
    expect(accepted.status).toBe(401);
    expect((await login(VICTIM_EMAIL, ATTACKER_PASSWORD, victim.workspace_id)).status).toBe(401);
    const [user] = await db.owner.query<{ password_hash: string | null }>(
      "select password_hash from users where email = $1",
      [VICTIM_EMAIL],
    );
    expect(user?.password_hash).toBeNull();

    // The answer is the same as for a token that does not exist at all.
    const bogus = await call("/v1/auth/accept-invite", {
      body: { invite_token: `${invite.body.invite_token as string}x`, password: ATTACKER_PASSWORD },
    });
    expect({ status: accepted.status, detail: accepted.body.detail }).toEqual({
      status: bogus.status,
      detail: bogus.body.detail,
    });

    // The legitimate path: the owner sets a first password with the setup token from onboarding, signs in, and
    // joins the other workspace by proving the account with that session.
    expect(victim.setup_token).toMatch(/^clp_inv_/);
    expect(
      (await call("/v1/auth/accept-invite", { body: { invite_token: victim.setup_token, password: VICTIM_PASSWORD } }))
        .status,
    ).toBe(200);
    expect(
      (await call("/v1/auth/accept-invite", { body: { invite_token: victim.setup_token, password: VICTIM_PASSWORD } }))
        .status,
    ).toBe(401);
    const session = await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id);
    expect(session.status).toBe(200);
    const reinvite = await call("/v1/members", {
      token: attacker.admin_token,
      body: { email: VICTIM_EMAIL, role: "viewer" },
    });
    const joined = await app.fetch(
      new Request("http://localhost/v1/auth/accept-invite", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${session.body.access_token}` },
        body: JSON.stringify({ invite_token: reinvite.body.invite_token }),
      }),
    );
    expect(joined.status).toBe(200);
    expect((await login(VICTIM_EMAIL, VICTIM_PASSWORD, attacker.workspace_id)).body.role).toBe("viewer");
  });

  test("accept-invite answers the same whether or not the email has an account", async () => {
    const existing = await call("/v1/members", {
      token: attacker.admin_token,
      body: { email: "someone@victim.example", role: "viewer" },
    });
    await db.owner.query(
      "insert into memberships (workspace_id, id, user_id, role, status) select $1, new_id('mem'), id, 'viewer', 'active' from users where email = 'someone@victim.example'",
      [victim.workspace_id],
    );
    const fresh = await call("/v1/members", {
      token: attacker.admin_token,
      body: { email: "nobody-yet@example.com", role: "viewer" },
    });
    const weak = "short";
    const a = await call("/v1/auth/accept-invite", {
      body: { invite_token: existing.body.invite_token, password: weak },
    });
    const b = await call("/v1/auth/accept-invite", { body: { invite_token: fresh.body.invite_token, password: weak } });
    expect({ status: a.status, detail: a.body.detail }).toEqual({ status: b.status, detail: b.body.detail });
    expect(a.status).toBe(422);
  });

  test("a tenant's own identity provider cannot sign in an account created elsewhere", async () => {
    const sso = await call("/v1/sso-connections", {
      token: attacker.admin_token,
      body: {
        provider: "jwt",
        display_name: "Evil IdP",
        issuer: "https://idp.attacker.example/",
        audience: "causeloop",
        jwks_url: `http://127.0.0.1:${jwks.port}/jwks`,
        jit_provisioning: true,
        default_role: "admin",
      },
    });
    expect(sso.status).toBe(201);
    const claimed = await call("/v1/auth/exchange", {
      body: { token: await idToken("evil|victim", VICTIM_EMAIL), workspace_id: attacker.workspace_id },
    });
    expect(claimed.status).toBe(401);
    // Even after the victim is a member of the attacker's workspace (previous test), the email claim is not enough.
    const memberClaim = await call("/v1/auth/exchange", {
      body: { token: await idToken("evil|victim-2", VICTIM_EMAIL), workspace_id: attacker.workspace_id },
    });
    expect(memberClaim.status).toBe(401);
    const [links] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from sso_identities s join users u on u.id = s.user_id where u.email = $1",
      [VICTIM_EMAIL],
    );
    expect(links?.n).toBe(0);

    // Just-in-time provisioning still works for a new person, bound to the connection...
    const provisioned = await call("/v1/auth/exchange", {
      body: { token: await idToken("evil|new", "jit-person@attacker.example"), workspace_id: attacker.workspace_id },
    });
    expect(provisioned.status).toBe(200);
    // ...but that IdP session cannot give the account a password, and the account never signs in with one.
    const setPassword = await call("/v1/me/password", {
      token: provisioned.body.access_token as string,
      body: { current_password: "x", new_password: ATTACKER_PASSWORD },
    });
    expect(setPassword.status).toBe(403);
    const enrol = await call("/v1/me/mfa/totp", { token: provisioned.body.access_token as string, body: {} });
    expect(enrol.status).toBe(403);
    expect((await login("jit-person@attacker.example", ATTACKER_PASSWORD)).status).toBe(401);
  });

  test("a narrow token cannot change the account: no password, no MFA, no new tokens", async () => {
    const session = await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id);
    const narrow = await call("/v1/tokens", {
      token: session.body.access_token as string,
      body: { name: "ci", scopes: ["issues:read"] },
    });
    expect(narrow.status).toBe(201);
    const leaked = narrow.body.token as string;
    expect((await call("/v1/issues", { token: leaked })).status).toBe(200);
    for (const [path, body] of [
      ["/v1/me/password", { current_password: VICTIM_PASSWORD, new_password: ATTACKER_PASSWORD }],
      ["/v1/me/mfa/totp", {}],
      ["/v1/me/mfa/totp/confirm", { code: "123456" }],
      ["/v1/tokens", { name: "more", scopes: ["issues:read"] }],
    ] as const) {
      expect(`${path} ${(await call(path, { token: leaked, body })).status}`).toBe(`${path} 403`);
      // Not even the owner's full-scope onboarding token may do account-level changes.
      expect(`${path} ${(await call(path, { token: victim.admin_token, body })).status}`).toBe(`${path} 403`);
    }
    expect((await login(VICTIM_EMAIL, ATTACKER_PASSWORD, victim.workspace_id)).status).toBe(401);
    const [factor] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from user_mfa_factors f join users u on u.id = f.user_id where u.email = $1",
      [VICTIM_EMAIL],
    );
    expect(factor?.n).toBe(0);
  });

  test("MFA belongs to the account: a password alone does not open the account's other workspace", async () => {
    const second = await addWorkspace(db.owner, "victim", "staging");
    const first = await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id);
    const enrol = await call("/v1/me/mfa/totp", { token: first.body.access_token as string, body: {} });
    expect(enrol.status).toBe(200);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.body.secret as string),
      digits: 6,
      period: 30,
    });
    expect(
      (
        await call("/v1/me/mfa/totp/confirm", {
          token: first.body.access_token as string,
          body: { code: totp.generate() },
        })
      ).status,
    ).toBe(200);

    const other = await login(VICTIM_EMAIL, VICTIM_PASSWORD, second.workspace_id);
    expect(other.status).toBe(200);
    expect(other.body.mfa_required).toBe(true);
    expect(other.body.access_token).toBeUndefined();
    const verified = await call("/v1/auth/mfa/verify", {
      body: { mfa_token: other.body.mfa_token, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
    });
    expect(verified.status).toBe(200);
    expect(verified.body.workspace_id).toBe(second.workspace_id);
    const me = await call("/v1/me", { token: verified.body.access_token as string });
    expect(me.body.actor).toMatchObject({ mfa_enabled: true });
  });

  test("a workspace that requires MFA lets a session without it reach only itself and MFA enrolment", async () => {
    const invite = await call("/v1/members", {
      token: victim.admin_token,
      body: { email: "analyst@victim.example", role: "analyst" },
    });
    expect(
      (
        await call("/v1/auth/accept-invite", {
          body: { invite_token: invite.body.invite_token, password: "analyst-password-123" },
        })
      ).status,
    ).toBe(200);
    const owner = await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id);
    expect(owner.body.mfa_required).toBe(true);
    // Requiring MFA is refused to a caller whose own account has none (no lock-out), allowed to the owner who has it.
    const analystFirst = await login("analyst@victim.example", "analyst-password-123", victim.workspace_id);
    const adminInvite = await call("/v1/members", {
      token: victim.admin_token,
      body: { email: "admin2@victim.example", role: "admin" },
    });
    await call("/v1/auth/accept-invite", {
      body: { invite_token: adminInvite.body.invite_token, password: "admin-two-password-1" },
    });
    const admin2 = await login("admin2@victim.example", "admin-two-password-1", victim.workspace_id);
    expect(
      (
        await call("/v1/workspace/security", {
          method: "PATCH",
          token: admin2.body.access_token as string,
          body: { require_mfa: true },
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await call("/v1/workspace/security", {
          method: "PATCH",
          token: victim.admin_token,
          body: { require_mfa: true },
        })
      ).status,
    ).toBe(200);
    // A session signed in before the policy changed is held to it at once.
    expect((await call("/v1/issues", { token: analystFirst.body.access_token as string })).status).toBe(403);
    const analyst = await login("analyst@victim.example", "analyst-password-123", victim.workspace_id);
    const token = analyst.body.access_token as string;
    expect((await call("/v1/issues", { token })).body).toMatchObject({ status: 403, reason: "mfa_required" });
    expect((await call("/v1/me", { token })).body).toMatchObject({ mfa_enrolment_required: true });
    expect((await call("/v1/me/mfa/totp", { token, body: {} })).status).toBe(200);
    // Tokens keep working (they are scoped credentials, not sign-ins); the policy is lifted the same way.
    expect(
      (
        await call("/v1/workspace/security", {
          method: "PATCH",
          token: victim.admin_token,
          body: { require_mfa: false },
        })
      ).status,
    ).toBe(200);
    expect((await call("/v1/issues", { token })).status).toBe(200);
  });

  test("changing the password revokes every other session and refresh token of the account, in every workspace", async () => {
    await db.owner.query("delete from user_mfa_factors where user_id = (select id from users where email = $1)", [
      VICTIM_EMAIL,
    ]);
    const stolen = await login(VICTIM_EMAIL, VICTIM_PASSWORD, attacker.workspace_id);
    const mine = await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id);
    expect(stolen.status).toBe(200);
    const changed = await call("/v1/me/password", {
      token: mine.body.access_token as string,
      body: { current_password: VICTIM_PASSWORD, new_password: "victim-new-password-2" },
    });
    expect(changed.status).toBe(204);
    expect((await call("/v1/auth/refresh", { body: { refresh_token: stolen.body.refresh_token } })).status).toBe(401);
    expect((await call("/v1/me", { token: stolen.body.access_token as string })).status).toBe(401);
    expect((await call("/v1/me", { token: mine.body.access_token as string })).status).toBe(200);
    expect((await call("/v1/auth/refresh", { body: { refresh_token: mine.body.refresh_token } })).status).toBe(200);
    expect((await login(VICTIM_EMAIL, VICTIM_PASSWORD, victim.workspace_id)).status).toBe(401);
    expect((await login(VICTIM_EMAIL, "victim-new-password-2", victim.workspace_id)).status).toBe(200);
  });

  test("a soft-offboarded workspace refuses its outstanding invitations", async () => {
    const doomed = await onboard(
      db.owner,
      { slug: "doomed", name: "Doomed", adminEmail: "admin@doomed.example" },
      undefined,
    );
    const invite = await call("/v1/members", {
      token: doomed.admin_token,
      body: { email: "late@doomed.example", role: "viewer" },
    });
    await offboard(db.owner, "doomed", "soft");
    const accepted = await call("/v1/auth/accept-invite", {
      body: { invite_token: invite.body.invite_token, password: "late-joiner-password-1" },
    });
    expect(accepted.status).toBe(403);
    expect(accepted.body.code).toBe("workspace_disabled");
    const [member] = await db.owner.query<{ status: string }>(
      "select m.status from memberships m join users u on u.id = m.user_id where u.email = 'late@doomed.example'",
    );
    expect(member?.status).toBe("invited");
  });

  test("a factor enrolled per workspace before MFA moved to the account still applies everywhere and moves on first use", async () => {
    const legacy = await onboard(db.owner, { slug: "legacy", name: "Legacy", adminEmail: "old@legacy.example" }, kek);
    const other = await addWorkspace(db.owner, "legacy", "second", undefined, undefined, kek);
    expect(
      (
        await call("/v1/auth/accept-invite", {
          body: { invite_token: legacy.setup_token, password: "legacy-password-123" },
        })
      ).status,
    ).toBe(200);
    const secret = new OTPAuth.Secret({ size: 20 }).base32;
    await withTenant(db.owner, legacy.workspace_id, async (tx) => {
      const sealed = await new SecretBox(tx, kek, legacy.workspace_id).seal(
        { table: "mfa_factors", column: "secret_encrypted", rowId: "mfa_legacy0000000000000000000" },
        secret,
      );
      await tx.query(
        "insert into mfa_factors (workspace_id, id, user_id, secret_encrypted, confirmed_at, recovery_code_hashes) values ($1, 'mfa_legacy0000000000000000000', $2, $3, now(), '{}')",
        [legacy.workspace_id, legacy.user_id, sealed],
      );
    });
    const signIn = await login("old@legacy.example", "legacy-password-123", other.workspace_id);
    expect(signIn.body.mfa_required).toBe(true);
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate();
    expect((await call("/v1/auth/mfa/verify", { body: { mfa_token: signIn.body.mfa_token, code } })).status).toBe(200);
    const [moved] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from user_mfa_factors where user_id = $1 and confirmed_at is not null",
      [legacy.user_id],
    );
    const [left] = await db.owner.query<{ n: number }>(
      "select count(*)::int as n from mfa_factors where user_id = $1",
      [legacy.user_id],
    );
    expect({ moved: moved?.n, left: left?.n }).toEqual({ moved: 1, left: 0 });
    expect((await login("old@legacy.example", "legacy-password-123", legacy.workspace_id)).body.mfa_required).toBe(
      true,
    );
  });
});
