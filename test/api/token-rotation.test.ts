// Personal access tokens over their life on both engines: last_used_at is recorded, rotation gives a new
// secret while the old one works for a grace period (never longer than it would have), and the onboarding
// admin token expires (CAUSELOOP_ONBOARDING_TOKEN_DAYS) instead of living forever.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { onboard } from "../../src/tenancy/service.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, postJson, sendJson, type OwnerApp } from "../helpers/routes.ts";

describeEngines("token rotation and expiry", (kind) => {
  let h: OwnerApp;
  const call = (method: string, path: string, token: string, body?: unknown) =>
    sendJson(h.app, method, path, token, body);
  const listed = async (id: string) =>
    ((await call("GET", "/v1/tokens?limit=200", h.token)).json.data as Record<string, unknown>[]).find(
      (t) => t.id === id,
    );

  beforeAll(async () => {
    h = await ownerApp(kind);
  });
  afterAll(() => h.dispose());

  test("a token's use is recorded in last_used_at", async () => {
    const pat = await postJson(h.app, "/v1/tokens", { name: "ci", scopes: ["issues:read"] }, h.token);
    expect((await listed(pat.id as string))?.last_used_at).toBeNull();
    expect((await call("GET", "/v1/issues", pat.token as string)).status).toBe(200);
    const used = (await listed(pat.id as string))?.last_used_at as string;
    expect(Date.now() - new Date(used).getTime()).toBeLessThan(60_000);
  });

  test("rotation: a new secret with the same scopes; the old one works for the grace period, then not", async () => {
    const pat = await postJson(h.app, "/v1/tokens", { name: "deploy", scopes: ["issues:read"] }, h.token);
    const rotated = await call("POST", `/v1/tokens/${pat.id}/rotate`, h.token, { grace_minutes: 60 });
    expect(rotated.status).toBe(200);
    expect(rotated.json).toMatchObject({ name: "deploy", scopes: ["issues:read"] });
    expect(rotated.json.token).not.toBe(pat.token);
    const grace = new Date(rotated.json.previous_expires_at as string).getTime() - Date.now();
    expect(grace).toBeGreaterThan(59 * 60_000);
    expect(grace).toBeLessThan(61 * 60_000);
    expect((await call("GET", "/v1/issues", pat.token as string)).status).toBe(200);
    expect((await call("GET", "/v1/issues", rotated.json.token as string)).status).toBe(200);
    // Once the grace period is over the old secret is refused.
    await h.db.owner.query("update personal_access_tokens set expires_at = now() - interval '1 second' where id = $1", [
      pat.id,
    ]);
    expect((await call("GET", "/v1/issues", pat.token as string)).status).toBe(401);
    expect((await call("GET", "/v1/issues", rotated.json.token as string)).status).toBe(200);
  });

  test("grace 0 ends the old secret at once; a rotated token cannot be rotated again; a token cannot rotate itself", async () => {
    const pat = await postJson(h.app, "/v1/tokens", { name: "now", scopes: ["issues:read", "tokens:write"] }, h.token);
    expect((await call("POST", `/v1/tokens/${pat.id}/rotate`, pat.token as string, {})).status).toBe(403);
    const rotated = await call("POST", `/v1/tokens/${pat.id}/rotate`, h.token, { grace_minutes: 0 });
    expect(rotated.status).toBe(200);
    expect((await call("GET", "/v1/issues", pat.token as string)).status).toBe(401);
    expect((await call("POST", `/v1/tokens/${pat.id}/rotate`, h.token, {})).status).toBe(404);
    const fresh = await postJson(h.app, "/v1/tokens", { name: "again", scopes: ["issues:read"] }, h.token);
    expect((await call("POST", `/v1/tokens/${fresh.id}/rotate`, h.token)).status).toBe(200);
    expect((await call("POST", `/v1/tokens/${fresh.id}/rotate`, h.token)).status).toBe(409);
  });

  test("the grace period never extends a token's life; the successor keeps its lifetime", async () => {
    const pat = await postJson(
      h.app,
      "/v1/tokens",
      { name: "short", scopes: ["issues:read"], expires_in_days: 30 },
      h.token,
    );
    await h.db.owner.query(
      "update personal_access_tokens set created_at = now() - interval '30 days' + interval '5 minutes', expires_at = now() + interval '5 minutes' where id = $1",
      [pat.id],
    );
    const rotated = await call("POST", `/v1/tokens/${pat.id}/rotate`, h.token, { grace_minutes: 1440 });
    expect(new Date(rotated.json.previous_expires_at as string).getTime() - Date.now()).toBeLessThan(6 * 60_000);
    const lifetime = new Date(rotated.json.expires_at as string).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(29 * 86_400_000);
  });

  test("someone else's token is 404; a service account's token is rotated by a member manager", async () => {
    const invite = await postJson(h.app, "/v1/members", { email: "analyst@acme.example", role: "analyst" }, h.token);
    await postJson(h.app, "/v1/auth/accept-invite", {
      invite_token: invite.invite_token,
      password: "analyst-password-1",
    });
    const analyst = await postJson(h.app, "/v1/auth/login", {
      email: "analyst@acme.example",
      password: "analyst-password-1",
    });
    const mine = await postJson(h.app, "/v1/tokens", { name: "owner's", scopes: ["issues:read"] }, h.token);
    expect((await call("POST", `/v1/tokens/${mine.id}/rotate`, analyst.access_token as string, {})).status).toBe(404);
    const sa = await postJson(h.app, "/v1/service-accounts", { name: "robot", role: "viewer" }, h.token);
    const saToken = await postJson(
      h.app,
      `/v1/service-accounts/${sa.id}/tokens`,
      { name: "robot", scopes: ["issues:read"] },
      h.token,
    );
    expect((await call("POST", `/v1/tokens/${saToken.id}/rotate`, analyst.access_token as string, {})).status).toBe(
      404,
    );
    const rotated = await call("POST", `/v1/tokens/${saToken.id}/rotate`, h.token, {});
    expect(rotated.status).toBe(200);
    expect(rotated.json.service_account_id).toBe(sa.id);
  });

  test("the onboarding admin token expires after CAUSELOOP_ONBOARDING_TOKEN_DAYS (0: never)", async () => {
    expect(h.tenant.admin_token_expires_at).toBeTruthy();
    const days = (new Date(h.tenant.admin_token_expires_at as string).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect((await call("GET", "/v1/issues", h.tenant.admin_token as string)).status).toBe(200);
    await h.db.owner.query("update personal_access_tokens set expires_at = now() - interval '1 second' where id = $1", [
      h.tenant.token_id,
    ]);
    expect((await call("GET", "/v1/issues", h.tenant.admin_token as string)).status).toBe(401);
    const longLived = await onboard(h.db.owner, {
      slug: "forever",
      name: "Forever",
      adminEmail: "a@forever.example",
      adminTokenDays: 0,
    });
    expect(longLived.admin_token_expires_at).toBeNull();
    const thirty = await onboard(h.db.owner, {
      slug: "thirty",
      name: "Thirty",
      adminEmail: "a@thirty.example",
      adminTokenDays: 30,
    });
    const [row] = await h.db.owner.query<{ days: number }>(
      "select round(extract(epoch from expires_at - now()) / 86400)::int as days from personal_access_tokens where id = $1",
      [thirty.token_id],
    );
    expect(row?.days).toBe(30);
  });
});
