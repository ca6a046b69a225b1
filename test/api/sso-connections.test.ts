// SSO connections through the API: the whole lifecycle (create, list, get, update, test, delete), the client
// secret sealed and never returned, every change audited without it; what each provider needs; and the
// workspace's "enforce SSO" policy: password sign-in refused to members, break-glass owners excepted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeEngines } from "../helpers/db.ts";
import { callJson, ownerApp, postJson, type OwnerApp } from "../helpers/routes.ts";
import { keyPair } from "../helpers/saml-idp.ts";
import { operations } from "../../src/operator/operations.ts";
import type { OperationContext } from "../../src/operator/contract.ts";
import { loadConfig } from "../../src/config.ts";
import { runRetention } from "../../src/governance/retention.ts";

const SECRET = "very-secret-client-secret-1234";

describeEngines("SSO connections", (kind) => {
  let h: OwnerApp;
  let cert: string;

  const call = (method: string, path: string, body?: unknown, token = h.token) =>
    callJson(h.app, method, path, body, token);
  const samlConnection = (extra: Record<string, unknown> = {}) => ({
    provider: "saml",
    display_name: "Corp",
    issuer: "https://idp.example.com",
    sso_url: "https://idp.example.com/sso",
    idp_certificate: cert,
    ...extra,
  });
  const auditOf = async (targetId: string) =>
    h.db.owner.query<{ action: string; before: unknown; after: unknown }>(
      "select action, before, after from audit_log where workspace_id = $1 and target_id = $2 order by seq",
      [h.tenant.workspace_id, targetId],
    );

  beforeAll(async () => {
    h = await ownerApp(kind, { publicUrl: "https://causeloop.test" });
    cert = keyPair("lifecycle-idp").cert;
  });
  afterAll(() => h.dispose());

  test("create, list, get, update, delete: the secret is sealed, never answered, never audited", async () => {
    const created = await call("POST", "/v1/sso-connections", {
      provider: "oidc",
      display_name: "Okta",
      issuer: "https://corp.okta.example",
      client_id: "causeloop-app",
      client_secret: SECRET,
      role_mapping: [{ group: "admins", role: "admin" }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      provider: "oidc",
      status: "active",
      has_client_secret: true,
      client_secret_last4: "1234",
      groups_claim: "groups",
      role_mapping: [{ group: "admins", role: "admin" }],
    });
    const id = created.body.id as string;
    const list = await call("GET", "/v1/sso-connections");
    expect((list.body.data as { id: string }[]).map((c) => c.id)).toContain(id);
    expect((await call("GET", `/v1/sso-connections/${id}`)).body).toEqual(created.body);

    const updated = await call("PATCH", `/v1/sso-connections/${id}`, {
      display_name: "Okta (prod)",
      client_secret: "another-secret-5678",
      status: "disabled",
    });
    expect(updated.body).toMatchObject({
      display_name: "Okta (prod)",
      client_secret_last4: "5678",
      status: "disabled",
    });
    // A disabled connection signs nobody in: its sign-in routes do not know it.
    expect((await h.app.fetch(new Request(`http://localhost/v1/auth/sso/${id}/start`))).status).toBe(404);

    const [stored] = await h.db.owner.query<{ client_secret_encrypted: string }>(
      "select client_secret_encrypted from sso_connections where id = $1",
      [id],
    );
    expect(stored?.client_secret_encrypted.startsWith("clp1.")).toBe(true);
    for (const text of [list.text, updated.text, JSON.stringify(stored)]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("another-secret-5678");
    }

    expect((await call("DELETE", `/v1/sso-connections/${id}`)).status).toBe(204);
    expect((await call("GET", `/v1/sso-connections/${id}`)).status).toBe(404);
    const trail = await auditOf(id);
    expect(trail.map((r) => r.action)).toEqual([
      "sso_connection.created",
      "sso_connection.updated",
      "sso_connection.deleted",
    ]);
    expect(JSON.stringify(trail)).not.toContain(SECRET);
  });

  test("each provider gets what it needs, or a 422 naming it", async () => {
    const post = (body: Record<string, unknown>) =>
      call("POST", "/v1/sso-connections", { display_name: "IdP", issuer: "https://idp.example.com", ...body });
    expect((await post({ provider: "oidc" })).body.detail).toContain("client_id");
    expect((await post({ provider: "saml", sso_url: "https://idp.example.com/sso" })).body.detail).toContain(
      "idp_certificate",
    );
    expect(
      (await post({ provider: "saml", sso_url: "https://idp.example.com/sso", idp_certificate: "not a cert" })).status,
    ).toBe(422);
    expect((await post({ provider: "jwt" })).body.detail).toContain("jwks_url");
    const saml = await post({ provider: "saml", sso_url: "https://idp.example.com/sso", idp_certificate: cert });
    expect(saml.status).toBe(201);
    expect(saml.body.idp_certificate_fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const tested = await call("POST", `/v1/sso-connections/${saml.body.id}/test`);
    expect(tested.body).toMatchObject({ ok: true, checks: [{ name: "certificate", ok: true }] });
    expect((await auditOf(saml.body.id as string)).map((r) => r.action)).toContain("sso_connection.tested");
  });

  test("enforce SSO: members are refused password sign-in, break-glass owners are not", async () => {
    const ownerId = ((await call("GET", "/v1/me")).body.actor as { id: string }).id;
    const policy = (body: unknown) => call("PUT", "/v1/workspace/sso-policy", body);
    // No active OIDC or SAML connection: nothing to sign in with, so nothing to enforce.
    for (const c of (await call("GET", "/v1/sso-connections")).body.data as { id: string }[])
      await call("PATCH", `/v1/sso-connections/${c.id}`, { status: "disabled" });
    expect((await policy({ enforce_sso: true, break_glass_user_ids: [ownerId] })).status).toBe(409);
    expect((await call("POST", "/v1/sso-connections", samlConnection())).status).toBe(201);
    expect((await policy({ enforce_sso: true, break_glass_user_ids: [] })).status).toBe(409);

    const invite = await call("POST", "/v1/members", { email: "member@acme.example", role: "admin" });
    await postJson(h.app, "/v1/auth/accept-invite", {
      invite_token: invite.body.invite_token,
      password: "member-password-123",
    });
    const memberId = (
      await h.db.owner.query<{ id: string }>("select id from users where email = 'member@acme.example'")
    )[0]?.id as string;
    // Only owners can be break-glass.
    expect((await policy({ enforce_sso: false, break_glass_user_ids: [memberId] })).status).toBe(422);

    const enforced = await policy({ enforce_sso: true, break_glass_user_ids: [ownerId] });
    expect(enforced).toMatchObject({ status: 200, body: { enforce_sso: true, break_glass_user_ids: [ownerId] } });
    expect((await call("GET", "/v1/workspace/sso-policy")).body).toEqual(enforced.body);

    const login = (email: string, password: string) =>
      h.app.fetch(
        new Request("http://localhost/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password }),
        }),
      );
    const refused = await login("member@acme.example", "member-password-123");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { detail: string }).detail).toContain("single sign-on");
    expect((await login("owner@acme.example", "harness-owner-password-1")).status).toBe(200);
    const [audit] = await h.db.owner.query<{ after: { reason: string } }>(
      "select after from audit_log where workspace_id = $1 and action = 'auth.login_refused' and actor_id = $2",
      [h.tenant.workspace_id, memberId],
    );
    expect(audit?.after.reason).toBe("sso_enforced");

    expect((await policy({ enforce_sso: false, break_glass_user_ids: [] })).status).toBe(200);
    expect((await login("member@acme.example", "member-password-123")).status).toBe(200);
  });

  test("the operator plane (causeloop sso create|update|list|show|test|delete) reaches the same connections, audited", async () => {
    const ws = h.tenant.workspace_id;
    const ctx: OperationContext = {
      engine: h.db.owner,
      config: loadConfig({}),
      kek: async () => h.kek,
      signer: async () => h.signer,
      actor: "operator:test",
    };
    const made = await operations["sso.create"].run(ctx, {
      workspace: ws,
      connection: samlConnection({ client_secret: SECRET }) as never,
    });
    const id = made.id;
    expect(made).toMatchObject({ provider: "saml", has_client_secret: true, status: "active" });
    expect(JSON.stringify(made)).not.toContain(SECRET);
    const disabled = await operations["sso.update"].run(ctx, { workspace: ws, id, changes: { status: "disabled" } });
    expect(disabled.status).toBe("disabled");
    const created = await call("PATCH", `/v1/sso-connections/${id}`, { status: "active" });
    expect(created.status).toBe(200);
    const listed = await operations["sso.list"].run(ctx, { workspace: ws });
    expect(listed.map((c) => c.id)).toContain(id);
    expect(JSON.stringify(listed)).not.toContain(SECRET);
    expect(await operations["sso.show"].run(ctx, { workspace: ws, id })).toEqual(created.body as never);
    expect((await operations["sso.test"].run(ctx, { workspace: ws, id })).ok).toBe(true);
    expect(await operations["sso.delete"].run(ctx, { workspace: ws, id })).toEqual({ deleted: id });
    expect((await call("GET", `/v1/sso-connections/${id}`)).status).toBe(404);
    const trail = await h.db.owner.query<{ action: string; actor_type: string }>(
      "select action, actor_type from audit_log where workspace_id = $1 and target_id = $2 and actor_type = 'operator' order by seq",
      [ws, id],
    );
    expect(trail.map((r) => r.action)).toEqual([
      "sso_connection.created",
      "sso_connection.updated",
      "sso_connection.tested",
      "sso_connection.deleted",
    ]);
  });

  test("sign-ins never finished and used assertion ids are removed once expired (retention job)", async () => {
    const created = await call("POST", "/v1/sso-connections", samlConnection({ display_name: "Sweep" }));
    const ws = h.tenant.workspace_id;
    await h.db.owner.query(
      `insert into sso_login_states (workspace_id, id, connection_id, state_hash, expires_at)
       values ($1, new_id('sls'), $2, 'abandoned', now() - interval '1 minute')`,
      [ws, created.body.id],
    );
    await h.db.owner.query(
      "insert into sso_assertion_ids (workspace_id, id, connection_id, expires_at) values ($1, 'old-assertion', $2, now() - interval '1 minute')",
      [ws, created.body.id],
    );
    const run = await runRetention(h.db.app);
    expect(run.totals.sso_flows).toBeGreaterThanOrEqual(2);
    const [left] = await h.db.owner.query<{ n: number }>(
      "select (select count(*) from sso_login_states where workspace_id = $1 and expires_at < now()) + (select count(*) from sso_assertion_ids where workspace_id = $1 and expires_at < now()) as n",
      [ws],
    );
    expect(Number(left?.n)).toBe(0);
  });
});
