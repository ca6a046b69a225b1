// Access reviews end to end on both engines: the snapshot names every grant with what a reviewer needs,
// completing applies the revocations at once and signs the result with the audit key, and the scheduled
// reminder raises access_review_due when the last completed review is too old.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { remindOverdueReviews } from "../../src/identity/access-reviews.ts";
import { operations } from "../../src/operator/operations.ts";
import { describeEngines } from "../helpers/db.ts";
import { ownerApp, postJson, sendJson, type OwnerApp } from "../helpers/routes.ts";

interface Line {
  id: string;
  kind: string;
  target_id: string;
  details: Record<string, unknown>;
  decision: string | null;
  applied_at: string | null;
}

describeEngines("access reviews", (kind) => {
  let h: OwnerApp;
  const call = (method: string, path: string, token: string, body?: unknown) =>
    sendJson(h.app, method, path, token, body);
  const signIn = async (email: string, role: string) => {
    const invite = await postJson(h.app, "/v1/members", { email, role }, h.token);
    await postJson(h.app, "/v1/auth/accept-invite", {
      invite_token: invite.invite_token,
      password: "reviewed-password-1",
    });
    const session = await postJson(h.app, "/v1/auth/login", { email, password: "reviewed-password-1" });
    return { access_token: session.access_token as string, member_id: invite.member_id as string };
  };

  beforeAll(async () => {
    h = await ownerApp(kind);
  });
  afterAll(() => h.dispose());

  test("a review snapshots members, tokens, service accounts and SCIM tokens; completing revokes and signs", async () => {
    const leaver = await signIn("leaver@acme.example", "analyst");
    const admin = await signIn("reviewer@acme.example", "admin");
    const leaverPat = await postJson(
      h.app,
      "/v1/tokens",
      { name: "leaver", scopes: ["issues:read"] },
      leaver.access_token,
    );
    const stale = await postJson(h.app, "/v1/tokens", { name: "stale", scopes: ["issues:read"] }, h.token);
    const sa = await postJson(h.app, "/v1/service-accounts", { name: "old-ci", role: "viewer" }, h.token);
    const saToken = await postJson(
      h.app,
      `/v1/service-accounts/${sa.id}/tokens`,
      { name: "ci", scopes: ["issues:read"] },
      h.token,
    );
    const scim = await postJson(h.app, "/v1/scim-tokens", { name: "old idp" }, h.token);
    expect((await call("GET", "/v1/issues", leaverPat.token as string)).status).toBe(200);

    // Only an owner starts a review; an admin reviews.
    expect((await call("POST", "/v1/access-reviews", admin.access_token as string, {})).status).toBe(403);
    const started = await call("POST", "/v1/access-reviews", h.token, {});
    expect(started.status).toBe(201);
    const review = started.json as { id: string; status: string; lines: Line[] };
    expect(review.status).toBe("open");
    const line = (kind: string, target: string) =>
      review.lines.find((l) => l.kind === kind && l.target_id === target) as Line;
    expect(line("member", leaver.member_id).details).toMatchObject({
      role: "analyst",
      email: "leaver@acme.example",
      mfa_enabled: false,
    });
    expect(line("member", leaver.member_id).details.last_sign_in_at).toBeTruthy();
    expect(line("token", leaverPat.id as string).details).toMatchObject({ scopes: ["issues:read"], age_days: 0 });
    expect(line("token", leaverPat.id as string).details.last_used_at).toBeTruthy();
    expect(line("token", h.tenant.token_id as string).details).toMatchObject({
      name: "onboarding admin token",
      role: "owner",
    });
    expect(line("service_account", sa.id as string).details).toMatchObject({ name: "old-ci", role: "viewer" });
    expect(line("scim_token", scim.id as string).details).toMatchObject({ name: "old idp" });

    const revoke = new Set([
      line("member", leaver.member_id).id,
      line("token", stale.id as string).id,
      line("service_account", sa.id as string).id,
      line("scim_token", scim.id as string).id,
    ]);
    const partial = review.lines
      .slice(0, 1)
      .map((l) => ({ item_id: l.id, decision: revoke.has(l.id) ? "revoke" : "keep" }));
    expect(
      (
        await call("POST", `/v1/access-reviews/${review.id}/decisions`, admin.access_token as string, {
          decisions: partial,
        })
      ).status,
    ).toBe(200);
    const early = await call("POST", `/v1/access-reviews/${review.id}/complete`, h.token, {});
    expect(early.status).toBe(409);
    const decisions = review.lines.map((l) => ({ item_id: l.id, decision: revoke.has(l.id) ? "revoke" : "keep" }));
    expect(
      (await call("POST", `/v1/access-reviews/${review.id}/decisions`, admin.access_token as string, { decisions }))
        .status,
    ).toBe(200);
    expect(
      (await call("POST", `/v1/access-reviews/${review.id}/complete`, admin.access_token as string, {})).status,
    ).toBe(403);
    expect((await call("GET", `/v1/access-reviews/${review.id}/export`, h.token)).status).toBe(409);

    const completed = await call("POST", `/v1/access-reviews/${review.id}/complete`, h.token, {});
    expect(completed.status).toBe(200);
    expect(completed.json).toMatchObject({ status: "completed", key_id: h.signer.keyId });
    expect((completed.json.lines as Line[]).filter((l) => l.applied_at).length).toBe(4);
    // Revoked at once: the leaver's session and token, the stale token, the service account's token, the SCIM token.
    expect((await call("GET", "/v1/issues", leaverPat.token as string)).status).toBe(401);
    expect((await call("GET", "/v1/issues", leaver.access_token as string)).status).toBe(401);
    expect((await call("GET", "/v1/issues", stale.token as string)).status).toBe(401);
    expect((await call("GET", "/v1/issues", saToken.token as string)).status).toBe(401);
    expect((await call("GET", "/scim/v2/Users", scim.token as string)).status).toBe(401);
    expect((await call("GET", "/v1/issues", admin.access_token as string)).status).toBe(200);

    // The signed result verifies with the audit key and names every decision.
    const exported = await call("GET", `/v1/access-reviews/${review.id}/export`, h.token);
    expect(exported.status).toBe(200);
    const [header, payload, signature] = (exported.json.signature as string).split(".") as [string, string, string];
    expect(await h.signer.verify(`${header}.${payload}`, signature)).toBe(true);
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    expect(claims).toMatchObject({
      type: "access-review-result",
      review_id: review.id,
      workspace_id: h.tenant.workspace_id,
    });
    expect(claims.revoked.sort()).toEqual([...revoke].sort());
    const trail = await call("GET", "/v1/audit?action=access_review.completed", h.token);
    expect((trail.json.data as { target_id: string }[]).map((e) => e.target_id)).toContain(review.id);
    expect((await call("POST", `/v1/access-reviews/${review.id}/decisions`, h.token, { decisions })).status).toBe(409);
    const list = await call("GET", "/v1/access-reviews", h.token);
    expect((list.json.data as { id: string }[])[0]?.id).toBe(review.id);
    // The operator plane (causeloop access-review list|show|export) reads the same.
    const ctx = {
      engine: h.db.owner,
      config: h.db.config,
      kek: async () => h.kek,
      signer: async () => h.signer,
      actor: "operator:t",
    };
    const workspace = h.tenant.workspace_id;
    expect((await operations["access-review.list"].run(ctx, { workspace })).map((r) => r.id)).toContain(review.id);
    expect((await operations["access-review.show"].run(ctx, { workspace, id: review.id })).lines?.length).toBe(
      review.lines.length,
    );
    expect((await operations["access-review.export"].run(ctx, { workspace, id: review.id })).signature).toBe(
      exported.json.signature as string,
    );
  });

  test("a review cannot remove the last owner", async () => {
    const review = (await postJson(h.app, "/v1/access-reviews", {}, h.token)) as unknown as {
      id: string;
      lines: Line[];
    };
    const decisions = review.lines.map((l) => ({
      item_id: l.id,
      decision: l.kind === "member" && l.details.role === "owner" ? "revoke" : "keep",
    }));
    await postJson(h.app, `/v1/access-reviews/${review.id}/decisions`, { decisions }, h.token);
    expect((await call("POST", `/v1/access-reviews/${review.id}/complete`, h.token, {})).status).toBe(409);
    expect((await call("GET", "/v1/me", h.token)).status).toBe(200);
  });

  test("the reminder raises access_review_due when the last completed review is older than the interval", async () => {
    expect((await remindOverdueReviews(h.db.owner, 90)).reminded).toBe(0);
    await h.db.owner.query(
      "update access_reviews set completed_at = now() - interval '100 days' where workspace_id = $1",
      [h.tenant.workspace_id],
    );
    const run = await remindOverdueReviews(h.db.owner, 90);
    expect(run.reminded).toBe(1);
    const alerts = await call("GET", "/v1/security-alerts?status=open", h.token);
    const due = (alerts.json.data as { rule: string; summary: string }[]).find((a) => a.rule === "access_review_due");
    expect(due?.summary).toContain("older than 90 days");
    // A workspace without any completed review is reminded once it is older than the interval.
    await h.db.owner.query("delete from access_reviews where workspace_id = $1", [h.tenant.workspace_id]);
    await h.db.owner.query("update workspaces set created_at = now() - interval '10 days' where id = $1", [
      h.tenant.workspace_id,
    ]);
    expect((await remindOverdueReviews(h.db.owner, 30)).reminded).toBe(0);
    expect((await remindOverdueReviews(h.db.owner, 5)).reminded).toBe(1);
  });
});
