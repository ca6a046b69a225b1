// OpenID Connect single sign-on against a real OpenID Provider (oidc-provider, in-process on loopback, which
// the operator allowlist lets the server reach), through the whole redirect flow over HTTP: start, the IdP's
// login page, the callback. Refused: a wrong state, a replayed code, a wrong nonce, an expired ID token, a
// token signed by a key the IdP's key set does not hold, an unknown person without JIT provisioning, and an
// identity of another workspace's connection.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { onboard } from "../../src/tenancy/service.ts";
import { createApp } from "../../src/http/app.ts";
import { apiDeps } from "../helpers/app.ts";
import { outboundPolicy } from "../../src/net/policy.ts";
import { describeEngines } from "../helpers/db.ts";
import { callJson, ownerApp, postJson, type OwnerApp } from "../helpers/routes.ts";
import { CLIENT_ID, CLIENT_SECRET, signingKey, signInAtIdp, startTestIdp, type TestIdp } from "../helpers/oidc-idp.ts";

const PUBLIC_URL = "https://causeloop.test";
const REFUSED = "the identity is not valid for this workspace";

describeEngines("OIDC single sign-on", (kind) => {
  let h: OwnerApp;
  let idp: TestIdp;
  let connectionId: string;

  const call = (method: string, path: string, body?: unknown, token = h.token) =>
    callJson(h.app, method, path, body, token);
  const anonymous = (path: string) => h.app.fetch(new Request(`http://localhost${path}`));
  const start = async (id = connectionId) => {
    const response = await anonymous(`/v1/auth/sso/${id}/start`);
    expect(response.status).toBe(302);
    return response.headers.get("location") as string;
  };
  /** Start, sign in at the IdP, and the callback URL it sends the browser back to (not yet followed). */
  const throughIdp = async (login: string, id = connectionId) => signInAtIdp(await start(id), PUBLIC_URL, login);
  const callback = async (url: URL) => {
    const response = await anonymous(`${url.pathname}${url.search}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    idp = await startTestIdp();
    h = await ownerApp(kind, { outbound: outboundPolicy({ allowlist: "127.0.0.1" }), publicUrl: PUBLIC_URL });
    const created = await call("POST", "/v1/sso-connections", {
      provider: "oidc",
      display_name: "Corp IdP",
      issuer: idp.issuer,
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      jit_provisioning: true,
      default_role: "viewer",
      role_mapping: [
        { group: "sre", role: "analyst" },
        { group: "it-admins", role: "admin" },
      ],
    });
    expect(created.status).toBe(201);
    connectionId = created.body.id as string;
    idp.configure({ redirectUri: `${PUBLIC_URL}/v1/auth/sso/${connectionId}/callback` });
    idp.accounts.set("alice", { email: "alice@corp.example", email_verified: true, groups: ["sre", "it-admins"] });
    idp.accounts.set("bob", { email: "bob@corp.example", email_verified: true, groups: [] });
    idp.accounts.set("carol", { email: "carol@corp.example", email_verified: true });
  });
  afterAll(async () => {
    await h.dispose();
    await idp.stop();
  });

  test("the whole flow: start redirects with PKCE, state and nonce; the callback answers a session like login", async () => {
    const authorization = new URL(await start());
    expect(authorization.origin).toBe(idp.issuer);
    expect(authorization.searchParams.get("code_challenge_method")).toBe("S256");
    for (const p of ["state", "nonce", "code_challenge"]) expect(authorization.searchParams.get(p)).toBeTruthy();
    expect(authorization.searchParams.get("redirect_uri")).toBe(`${PUBLIC_URL}/v1/auth/sso/${connectionId}/callback`);

    const session = await callback(await throughIdp("alice"));
    expect(session.status).toBe(200);
    // JIT provisioning, the highest role the groups map to.
    expect(session.body).toMatchObject({ token_type: "Bearer", role: "admin", workspace_id: h.tenant.workspace_id });
    const me = await call("GET", "/v1/me", undefined, session.body.access_token as string);
    expect(me.status).toBe(200);
    // The refresh token works as a password login's does.
    const refreshed = await postJson(h.app, "/v1/auth/refresh", { refresh_token: session.body.refresh_token });
    expect(refreshed.access_token).toBeTruthy();

    // Signing in again finds the identity by (connection, subject): the same account, no second membership.
    const again = await callback(await throughIdp("alice"));
    expect(again.status).toBe(200);
    const [row] = await h.db.owner.query<{ n: number }>(
      "select count(*)::int as n from memberships m join users u on u.id = m.user_id where u.email = 'alice@corp.example'",
    );
    expect(row?.n).toBe(1);
    const [identity] = await h.db.owner.query<{ subject: string; issuer: string }>(
      "select subject, issuer from sso_identities where workspace_id = $1 and connection_id = $2",
      [h.tenant.workspace_id, connectionId],
    );
    expect(identity).toEqual({ subject: "alice", issuer: idp.issuer });
  });

  test("stateless instances: a flow started on one instance finishes on another sharing the database", async () => {
    const other = createApp(
      apiDeps(h.db, h.kek, { publicUrl: PUBLIC_URL, outbound: outboundPolicy({ allowlist: "127.0.0.1" }) }),
    );
    const url = await throughIdp("alice");
    const response = await other.fetch(new Request(`http://localhost${url.pathname}${url.search}`));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { role: string }).role).toBe("admin");
  });

  test("a wrong state is refused, and the real one is still good", async () => {
    const url = await throughIdp("alice");
    const forged = new URL(url);
    forged.searchParams.set("state", "forged-state-value");
    expect(await callback(forged)).toMatchObject({ status: 401 });
    const missing = new URL(url);
    missing.searchParams.delete("state");
    expect((await callback(missing)).status).toBe(401);
    expect((await callback(url)).status).toBe(200);
  });

  test("a replayed code is refused: the same callback twice, and the old code under a fresh state", async () => {
    const url = await throughIdp("alice");
    expect((await callback(url)).status).toBe(200);
    expect(await callback(url)).toMatchObject({
      status: 401,
      body: { detail: "the sign-in state is unknown, expired or already used" },
    });
    const fresh = new URL(await throughIdp("alice"));
    fresh.searchParams.set("code", url.searchParams.get("code") as string);
    expect(await callback(fresh)).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("a wrong nonce is refused", async () => {
    const url = await throughIdp("alice");
    await h.db.owner.query("update sso_login_states set nonce = 'not-the-nonce-sent' where workspace_id = $1", [
      h.tenant.workspace_id,
    ]);
    expect(await callback(url)).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("an expired ID token is refused", async () => {
    const url = await throughIdp("alice");
    idp.backdateNextToken(3 * 3600);
    expect(await callback(url)).toMatchObject({ status: 401, body: { detail: REFUSED } });
  });

  test("rotated keys: the new key is used at once; a token signed by a key the key set lacks is refused", async () => {
    const redirectUri = `${PUBLIC_URL}/v1/auth/sso/${connectionId}/callback`;
    const rotated = await signingKey("key-2");
    idp.configure({ redirectUri, signingKey: rotated });
    expect((await callback(await throughIdp("alice"))).status).toBe(200);
    // An impostor key under the published key id: the signature does not verify.
    idp.configure({ redirectUri, signingKey: await signingKey("key-2"), servedKeys: [rotated] });
    expect(await callback(await throughIdp("alice"))).toMatchObject({ status: 401, body: { detail: REFUSED } });
    // A key id the key set does not hold.
    idp.configure({ redirectUri, signingKey: await signingKey("key-3"), servedKeys: [rotated] });
    expect(await callback(await throughIdp("alice"))).toMatchObject({ status: 401, body: { detail: REFUSED } });
    idp.configure({ redirectUri, signingKey: rotated });
  });

  test("an unknown person: provisioned with the default role under JIT, refused without it", async () => {
    const bob = await callback(await throughIdp("bob"));
    expect(bob).toMatchObject({ status: 200, body: { role: "viewer" } });
    expect((await call("PATCH", `/v1/sso-connections/${connectionId}`, { jit_provisioning: false })).status).toBe(200);
    expect(await callback(await throughIdp("carol"))).toMatchObject({ status: 401, body: { detail: REFUSED } });
    // Already linked identities still sign in.
    expect((await callback(await throughIdp("bob"))).status).toBe(200);
    await call("PATCH", `/v1/sso-connections/${connectionId}`, { jit_provisioning: true });
  });

  test("a person the workspace's SCIM provisioned signs in through its connection without JIT; deprovisioned, no more", async () => {
    const scimToken = (await call("POST", "/v1/scim-tokens", { name: "corp idp" })).body.token as string;
    const scim = (method: string, path: string, body?: unknown) =>
      h.app.fetch(
        new Request(`http://localhost${path}`, {
          method,
          headers: { authorization: `Bearer ${scimToken}`, "content-type": "application/scim+json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
    const provisioned = await scim("POST", "/scim/v2/Users", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "dave@corp.example",
      active: true,
    });
    expect(provisioned.status).toBe(201);
    const scimId = ((await provisioned.json()) as { id: string }).id;
    expect((await call("PATCH", `/v1/sso-connections/${connectionId}`, { jit_provisioning: false })).status).toBe(200);
    try {
      idp.accounts.set("dave", { email: "dave@corp.example", email_verified: true });
      const dave = await callback(await throughIdp("dave"));
      expect(dave.status).toBe(200);
      const me = await call("GET", "/v1/me", undefined, dave.body.access_token as string);
      expect((me.body.actor as { email: string }).email).toBe("dave@corp.example");
      // The IdP deactivates him: the same sign-in is refused at once.
      const off = await scim("PATCH", `/scim/v2/Users/${scimId}`, {
        schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        Operations: [{ op: "replace", value: { active: false } }],
      });
      expect(off.status).toBe(200);
      expect(await callback(await throughIdp("dave"))).toMatchObject({ status: 401 });
    } finally {
      await call("PATCH", `/v1/sso-connections/${connectionId}`, { jit_provisioning: true });
    }
  });

  test("a member links their own account from a password session; the IdP then signs them into it", async () => {
    idp.configure({ redirectUri: `${PUBLIC_URL}/v1/auth/sso/${connectionId}/callback` });
    idp.accounts.set("olivia", { email: "olivia.private@corp.example", email_verified: true });
    const started = await call("POST", `/v1/sso-connections/${connectionId}/link`);
    expect(started.status).toBe(200);
    const linked = await callback(await signInAtIdp(started.body.authorization_url as string, PUBLIC_URL, "olivia"));
    expect(linked).toMatchObject({ status: 200, body: { role: "owner", workspace_id: h.tenant.workspace_id } });
    // From now on the IdP signs the owner in (no new account for the IdP's email).
    expect(await callback(await throughIdp("olivia"))).toMatchObject({ status: 200, body: { role: "owner" } });
    const [account] = await h.db.owner.query<{ n: number }>(
      "select count(*)::int as n from users where email = 'olivia.private@corp.example'",
    );
    expect(account?.n).toBe(0);
    // An IdP session cannot link (account-level); an identity linked to someone else is refused.
    const idpSession = linked.body.access_token as string;
    expect((await call("POST", `/v1/sso-connections/${connectionId}/link`, undefined, idpSession)).status).toBe(403);
    const again = await call("POST", `/v1/sso-connections/${connectionId}/link`);
    expect(
      await callback(await signInAtIdp(again.body.authorization_url as string, PUBLIC_URL, "alice")),
    ).toMatchObject({
      status: 409,
    });
  });

  test("another workspace's connection to the same IdP signs nobody in through this workspace's identities", async () => {
    const bravo = await onboard(
      h.db.owner,
      { slug: `bravo${kind}`, name: "Bravo", adminEmail: "owner@bravo.example" },
      h.kek,
    );
    await postJson(h.app, "/v1/auth/accept-invite", {
      invite_token: bravo.setup_token,
      password: "bravo-owner-password-1",
    });
    const bravoToken = (
      await postJson(h.app, "/v1/auth/login", { email: "owner@bravo.example", password: "bravo-owner-password-1" })
    ).access_token as string;
    const bravoConnection = await call(
      "POST",
      "/v1/sso-connections",
      {
        provider: "oidc",
        display_name: "Same IdP",
        issuer: idp.issuer,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      },
      bravoToken,
    );
    expect(bravoConnection.status).toBe(201);
    const bravoId = bravoConnection.body.id as string;
    idp.configure({ redirectUri: `${PUBLIC_URL}/v1/auth/sso/${bravoId}/callback` });
    // alice is linked (and an admin) in acme; in bravo, whose connection has no JIT, she is nobody.
    expect(await callback(await throughIdp("alice", bravoId))).toMatchObject({
      status: 401,
      body: { detail: REFUSED },
    });
    // Acme's callback with bravo's connection id is no shortcut either: the state belongs to the other connection.
    idp.configure({ redirectUri: `${PUBLIC_URL}/v1/auth/sso/${connectionId}/callback` });
    const acmeCallback = await throughIdp("alice");
    const crossed = new URL(acmeCallback.href.replace(connectionId, bravoId));
    expect((await callback(crossed)).status).toBe(401);
  });
});
