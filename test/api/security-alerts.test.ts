// Security alerting as a client's security team meets it: each rule fires at its threshold and stays quiet
// below it; an alert is raised once per subject and counts its occurrences; it is listed through the API,
// acknowledged with a note (audited), and written to the outbox of webhooks subscribed to security.alert.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { appendAudit } from "../../src/audit/service.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { newId } from "../../src/ids.ts";
import { silentLogger } from "../../src/log.ts";
import { localLimiter } from "../../src/http/edge/rate-limit.ts";
import { rateLimitsOn } from "../../src/tenancy/limits.ts";
import type { RateLimits } from "../../src/http/app.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, type OwnerApp } from "../helpers/routes.ts";

interface Alert {
  id: string;
  rule: string;
  severity: string;
  status: string;
  occurrences: number;
  details: Record<string, unknown>;
}

describeEngines("security alerts", (kind) => {
  let h: OwnerApp;
  let limits: RateLimits;
  const call = async (method: string, path: string, body?: unknown, token = h.token) => {
    const response = await h.app.fetch(
      new Request(`http://localhost${path}`, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }),
    );
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  };
  const alerts = async (rule: string) => {
    await h.alerts?.settled();
    const page = await call("GET", "/v1/security-alerts?limit=200");
    expect(page.status).toBe(200);
    return (page.body.data as Alert[]).filter((a) => a.rule === rule);
  };
  const audit = (action: string, extra: { targetId?: string; ip?: string; after?: unknown } = {}) =>
    withTenant(h.db.app, h.tenant.workspace_id, (tx) =>
      appendAudit(tx, {
        workspaceId: h.tenant.workspace_id,
        action,
        actorId: extra.targetId ?? null,
        actorType: "user",
        targetType: "user",
        targetId: extra.targetId,
        after: extra.after,
        context: { ip: extra.ip },
      }),
    );

  beforeAll(async () => {
    h = await ownerApp(kind, {
      alerts: true,
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
    // A destination for security alerts: each new alert is written to its outbox.
    expect(
      (await call("POST", "/v1/webhooks", { url: "https://siem.example.com/alerts", events: ["security.alert"] }))
        .status,
    ).toBe(201);
  });
  afterAll(() => h.dispose());

  test("failed sign-ins to one account: quiet at 4, an alert at 5, counted again at 6; acknowledged with a note", async () => {
    const fail = () =>
      call("POST", "/v1/auth/login", { email: "owner@acme.example", password: "not-the-password-1" }, "");
    for (let i = 0; i < 4; i++) expect((await fail()).status).toBe(401);
    expect(await alerts("failed_logins_account")).toEqual([]);
    await fail();
    const [raised] = await alerts("failed_logins_account");
    expect(raised).toMatchObject({ severity: "high", status: "open", occurrences: 1 });
    expect(raised?.details).toMatchObject({ user_id: h.tenant.user_id, failures: 5 });
    await fail();
    expect(await alerts("failed_logins_account")).toMatchObject([{ id: raised?.id, occurrences: 2 }]);

    const outbox = await h.db.owner.query<{ payload: { type: string; data: { id: string; rule: string } } }>(
      "select payload from webhook_deliveries where workspace_id = $1 and event_type = 'security.alert'",
      [h.tenant.workspace_id],
    );
    expect(outbox.filter((o) => o.payload.data.id === raised?.id)).toHaveLength(1); // once, not per occurrence
    expect(outbox[0]?.payload).toMatchObject({ type: "security.alert", data: { rule: "failed_logins_account" } });

    const ack = await call("POST", `/v1/security-alerts/${raised?.id}/acknowledge`, { note: "our pen test" });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({
      status: "acknowledged",
      ack_note: "our pen test",
      acknowledged_by: h.tenant.user_id,
    });
    expect((await call("POST", `/v1/security-alerts/${raised?.id}/acknowledge`, { note: "again" })).status).toBe(409);
    const acked = await h.db.owner.query<{ action: string }>(
      "select action from audit_log where workspace_id = $1 and target_id = $2",
      [h.tenant.workspace_id, raised?.id],
    );
    expect(acked.map((a) => a.action)).toEqual(["security_alert.acknowledged"]);
    // The next failure after the acknowledgement opens a new alert.
    await fail();
    expect((await alerts("failed_logins_account")).map((a) => a.status).sort()).toEqual(["acknowledged", "open"]);
  });

  test("password spraying: failed sign-ins to 4 accounts from one address are quiet, to 5 raise it", async () => {
    const users = Array.from({ length: 5 }, () => newId("usr"));
    for (const user of users.slice(0, 4)) await audit("auth.login_failed", { targetId: user, ip: "203.0.113.7" });
    await audit("auth.login_failed", { targetId: users[0], ip: "198.51.100.1" }); // another address
    expect(await alerts("password_spraying")).toEqual([]);
    await audit("auth.login_failed", { targetId: users[4], ip: "203.0.113.7" });
    expect(await alerts("password_spraying")).toMatchObject([
      { severity: "critical", details: { ip: "203.0.113.7", accounts: 5 } },
    ]);
  });

  test("two-factor turned off, a new owner, an admin-scope token: each raises; their harmless twins do not", async () => {
    await audit("mfa.enabled", { targetId: h.tenant.user_id });
    expect(await alerts("mfa_disabled")).toEqual([]);
    await audit("mfa.disabled", { targetId: h.tenant.user_id });
    expect(await alerts("mfa_disabled")).toHaveLength(1);

    const invite = async (email: string) =>
      (await call("POST", "/v1/members", { email, role: "viewer" })).body.member_id as string;
    const analyst = await invite("ann@acme.example");
    expect((await call("PATCH", `/v1/members/${analyst}`, { role: "analyst" })).status).toBe(200);
    expect(await alerts("new_owner")).toEqual([]);
    const owner = await invite("olga@acme.example");
    expect((await call("PATCH", `/v1/members/${owner}`, { role: "owner" })).status).toBe(200);
    expect(await alerts("new_owner")).toMatchObject([{ details: { member: owner, previous_role: "viewer" } }]);

    expect((await call("POST", "/v1/tokens", { name: "reader", scopes: ["issues:read"] })).status).toBe(201);
    expect(await alerts("admin_token_created")).toEqual([]);
    const admin = await call("POST", "/v1/tokens", { name: "automation", scopes: ["members:write"] });
    expect(admin.status).toBe(201);
    expect(await alerts("admin_token_created")).toMatchObject([{ details: { token_id: admin.body.id } }]);
  });

  test("one credential asking for ids that are not its workspace's: 19 are quiet, the 20th raises it", async () => {
    const token = (await call("POST", "/v1/tokens", { name: "prober", scopes: ["issues:read"] })).body.token as string;
    for (let i = 0; i < 19; i++)
      expect((await call("GET", `/v1/issues/${newId("iss")}`, undefined, token)).status).toBe(404);
    expect(await alerts("cross_tenant_probing")).toEqual([]);
    await call("GET", `/v1/issues/${newId("iss")}`, undefined, token);
    expect(await alerts("cross_tenant_probing")).toMatchObject([
      { severity: "high", details: { count: 20, last_route: "/v1/issues/:id" } },
    ]);
  });

  test("one credential refused by the rate limits again and again: 19 refusals are quiet, the 20th raises it", async () => {
    const token = (await call("POST", "/v1/tokens", { name: "hammer", scopes: ["issues:read"] })).body.token as string;
    limits.limiter = localLimiter();
    limits.perCredential = 1;
    try {
      // Read from the database here: the owner's own reads would be refused by the budget of 1 too.
      const raised = async () => {
        await h.alerts?.settled();
        return h.db.owner.query<{ details: unknown }>(
          "select details from security_alerts where workspace_id = $1 and rule = 'rate_limited_credential'",
          [h.tenant.workspace_id],
        );
      };
      expect((await call("GET", "/v1/issues", undefined, token)).status).toBe(200);
      for (let i = 0; i < 19; i++) expect((await call("GET", "/v1/issues", undefined, token)).status).toBe(429);
      expect(await raised()).toEqual([]);
      await call("GET", "/v1/issues", undefined, token);
      expect(await raised()).toMatchObject([{ details: { count: 20 } }]);
    } finally {
      limits.perCredential = 1000;
      limits.limiter = localLimiter();
    }
  });
});
