// Identity routes: the public auth endpoints (login, refresh, logout, MFA verify, accept invite), the caller
// (/v1/me, password, MFA), members, personal access tokens and service accounts.
import { Elysia, t } from "elysia";
import type { authPlugin, Caller as RouteCaller } from "./auth.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { completeMfa, login, logout, refresh, type SessionDeps } from "./sessions.ts";
import { exchange, type GlobalIdp } from "./exchange.ts";
import { confirmTotp, disableTotp, enrollTotp } from "./mfa.ts";
import { acceptInvite, changeRole, inviteMember, listMembers, removeMember } from "./members.ts";
import { createPersonalToken, createServiceAccount, createServiceAccountToken, listServiceAccounts, listTokens, revokeToken, type Caller } from "./access-tokens.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";
import { ROLES, SCOPES } from "./permissions.ts";

const Role = t.Union(ROLES.map((r) => t.Literal(r)));
const Scope = t.Union(SCOPES.map((s) => t.Literal(s)));
const Email = t.String({ format: "email", maxLength: 254 });
const Password = t.String({ minLength: 1, maxLength: 1024 });
const id = (prefix: string) => t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$` }) });

const callerOf = (c: RouteCaller): Caller => ({
  workspaceId: c.principal.workspaceId,
  actorId: c.principal.actorId,
  actorType: c.principal.actorType,
  context: c.context,
  role: c.principal.role,
  scopes: c.principal.scopes,
});

/** Routes anyone may call (they authenticate by what they carry in the body). */
export function publicAuthRoutes(deps: SessionDeps, contextOf: (request: Request, ip: string | undefined) => RequestContext, globalIdp?: GlobalIdp) {
  return new Elysia({ name: "auth-public", prefix: "/v1/auth" })
    .post("/login", ({ body, request, server }) => login(deps, body, contextOf(request, server?.requestIP(request)?.address)), {
      body: t.Object({ email: t.String({ maxLength: 254 }), password: Password, workspace_id: t.Optional(t.String({ pattern: "^ws_[0-9a-z]{26}$" })) }, { additionalProperties: false }),
      detail: { summary: "Log in with email and password: tokens, or {mfa_required, mfa_token}", tags: ["auth"] },
    })
    .post("/mfa/verify", ({ body, request, server }) => completeMfa(deps, body, contextOf(request, server?.requestIP(request)?.address)), {
      body: t.Object({ mfa_token: t.String({ maxLength: 2000 }), code: t.String({ maxLength: 32 }) }, { additionalProperties: false }),
      detail: { summary: "Complete a login with a TOTP or recovery code", tags: ["auth"] },
    })
    .post("/refresh", ({ body, request, server }) => refresh(deps, body.refresh_token, contextOf(request, server?.requestIP(request)?.address)), {
      body: t.Object({ refresh_token: t.String({ maxLength: 200 }) }, { additionalProperties: false }),
      detail: { summary: "Rotate a refresh token (reuse of a rotated one revokes the whole session family)", tags: ["auth"] },
    })
    .post("/logout", async ({ body, request, server, set }) => {
      await logout(deps, body.refresh_token, contextOf(request, server?.requestIP(request)?.address));
      set.status = 204;
      return null;
    }, {
      body: t.Object({ refresh_token: t.String({ maxLength: 200 }) }, { additionalProperties: false }),
      detail: { summary: "End a session (its whole refresh-token family)", tags: ["auth"] },
    })
    .post("/exchange", ({ body, request, server }) => exchange(deps, globalIdp, body, contextOf(request, server?.requestIP(request)?.address)), {
      body: t.Object({ token: t.String({ minLength: 10, maxLength: 8000 }), workspace_id: t.String({ pattern: "^ws_[0-9a-z]{26}$" }) }, { additionalProperties: false }),
      detail: { summary: "Exchange an identity provider's JWT (RS256/ES256, verified against its JWKS) for Causeloop tokens", tags: ["auth"] },
    })
    .post("/accept-invite", ({ body, request, server }) => acceptInvite(deps.door, body, contextOf(request, server?.requestIP(request)?.address)), {
      body: t.Object({ invite_token: t.String({ maxLength: 200 }), password: Password, display_name: t.Optional(t.String({ maxLength: 200 })) }, { additionalProperties: false }),
      detail: { summary: "Accept an invitation and set a password", tags: ["auth"] },
    });
}

export function identityRoutes(auth: ReturnType<typeof authPlugin>, kek: KekProvider | undefined) {
  const needKek = () => {
    if (!kek) throw new AppError("internal", "MFA needs the master key ring");
    return kek;
  };
  return new Elysia({ name: "identity" })
    .use(auth)
    .get(
      "/v1/me",
      ({ caller }) =>
        caller.tenant(async (tx) => {
          const { principal } = caller;
          const [workspace] = await tx.query<{ id: string; slug: string; name: string; organization_id: string }>("select id, slug, name, organization_id from workspaces where id = $1", [principal.workspaceId]);
          const [user] = principal.actorType === "user" ? await tx.query<{ id: string; email: string; display_name: string | null }>("select id, email, display_name from users where id = $1", [principal.actorId]) : [];
          const [mfa] = principal.actorType === "user" ? await tx.query("select 1 from mfa_factors where workspace_id = $1 and user_id = $2 and confirmed_at is not null", [principal.workspaceId, principal.actorId]) : [];
          return { actor: { id: principal.actorId, type: principal.actorType, email: user?.email ?? null, display_name: user?.display_name ?? null, mfa_enabled: Boolean(mfa) }, workspace, role: principal.role, scopes: [...principal.scopes].sort(), via: principal.via };
        }),
      { scope: "authenticated", detail: { summary: "The caller, its workspace, role and scopes", tags: ["identity"] } },
    )
    .post("/v1/me/password", async ({ caller, body, set }) => {
      if (caller.principal.actorType !== "user") throw new AppError("forbidden", "service accounts have no password");
      await caller.tenant(async (tx) => {
        const [row] = await tx.query<{ password_hash: string | null }>("select password_hash from users where id = $1", [caller.principal.actorId]);
        // A user created by onboarding has no password yet: their first one needs no current password.
        if (row?.password_hash && !(await verifyPassword(body.current_password ?? "", row.password_hash))) throw new AppError("forbidden", "the current password is not correct");
        checkPasswordPolicy(body.new_password);
        await tx.query("update users set password_hash = $2, password_changed_at = now() where id = $1", [caller.principal.actorId, await hashPassword(body.new_password)]);
        await appendAudit(tx, { workspaceId: caller.principal.workspaceId, action: "user.password_changed", actorId: caller.principal.actorId, actorType: "user", targetType: "user", targetId: caller.principal.actorId, context: caller.context });
      });
      set.status = 204;
      return null;
    }, { scope: "authenticated", body: t.Object({ current_password: t.Optional(Password), new_password: Password }, { additionalProperties: false }), detail: { summary: "Change the caller's password (the first one, for an account without any, needs no current password)", tags: ["identity"] } })
    .post("/v1/me/mfa/totp", ({ caller }) =>
      caller.tenant(async (tx) => {
        const [user] = await tx.query<{ email: string }>("select email from users where id = $1", [caller.principal.actorId]);
        if (!user) throw new AppError("forbidden", "only people enrol MFA");
        const enrolment = await enrollTotp(tx, needKek(), caller.principal.workspaceId, caller.principal.actorId, user.email);
        await appendAudit(tx, { workspaceId: caller.principal.workspaceId, action: "mfa.enrolment_started", actorId: caller.principal.actorId, actorType: "user", targetType: "user", targetId: caller.principal.actorId, context: caller.context });
        return enrolment;
      }), { scope: "authenticated", detail: { summary: "Start TOTP enrolment: an otpauth:// URI and its secret, shown once", tags: ["identity"] } })
    .post("/v1/me/mfa/totp/confirm", ({ caller, body }) =>
      caller.tenant(async (tx) => {
        const result = await confirmTotp(tx, needKek(), caller.principal.workspaceId, caller.principal.actorId, body.code);
        await appendAudit(tx, { workspaceId: caller.principal.workspaceId, action: "mfa.enabled", actorId: caller.principal.actorId, actorType: "user", targetType: "user", targetId: caller.principal.actorId, context: caller.context });
        return result;
      }), { scope: "authenticated", body: t.Object({ code: t.String({ maxLength: 16 }) }, { additionalProperties: false }), detail: { summary: "Confirm TOTP with a first code; returns 10 one-time recovery codes", tags: ["identity"] } })
    .post("/v1/me/mfa/totp/disable", async ({ caller, body, set }) => {
      await caller.tenant(async (tx) => {
        await disableTotp(tx, needKek(), caller.principal.workspaceId, caller.principal.actorId, body.code);
        await appendAudit(tx, { workspaceId: caller.principal.workspaceId, action: "mfa.disabled", actorId: caller.principal.actorId, actorType: "user", targetType: "user", targetId: caller.principal.actorId, context: caller.context });
      });
      set.status = 204;
      return null;
    }, { scope: "authenticated", body: t.Object({ code: t.String({ maxLength: 32 }) }, { additionalProperties: false }), detail: { summary: "Disable TOTP with a current or recovery code", tags: ["identity"] } })
    .get("/v1/members", ({ caller }) => caller.tenant((tx) => listMembers(tx, caller.principal.workspaceId)), { scope: "members:read", detail: { summary: "List members", tags: ["members"] } })
    .post("/v1/members", ({ caller, body, set }) => {
      set.status = 201;
      return caller.tenant((tx) => inviteMember(tx, callerOf(caller), body));
    }, { scope: "members:write", body: t.Object({ email: Email, role: Role }, { additionalProperties: false }), detail: { summary: "Invite someone by email with a role; returns a one-time invite token", tags: ["members"] } })
    .patch("/v1/members/:id", ({ caller, params, body }) => caller.tenant((tx) => changeRole(tx, callerOf(caller), params.id, body.role)), { scope: "members:write", params: id("mem"), body: t.Object({ role: Role }, { additionalProperties: false }), detail: { summary: "Change a member's role", tags: ["members"] } })
    .delete("/v1/members/:id", async ({ caller, params, set }) => {
      await caller.tenant((tx) => removeMember(tx, callerOf(caller), params.id));
      set.status = 204;
      return null;
    }, { scope: "members:write", params: id("mem"), detail: { summary: "Remove a member (their tokens and sessions here stop working at once)", tags: ["members"] } })
    .post("/v1/tokens", ({ caller, body, set }) => {
      set.status = 201;
      return caller.tenant((tx) => createPersonalToken(tx, callerOf(caller), body));
    }, {
      scope: "tokens:write",
      body: t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), scopes: t.Array(Scope, { minItems: 1, uniqueItems: true }), expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })) }, { additionalProperties: false }),
      detail: { summary: "Create a personal access token (shown once; scopes limited to the caller's)", tags: ["tokens"] },
    })
    .get("/v1/tokens", ({ caller }) => caller.tenant((tx) => listTokens(tx, callerOf(caller))), { scope: "tokens:write", detail: { summary: "List tokens: name, prefix, scopes, created, last used, expiry", tags: ["tokens"] } })
    .delete("/v1/tokens/:id", async ({ caller, params, set }) => {
      await caller.tenant((tx) => revokeToken(tx, callerOf(caller), params.id));
      set.status = 204;
      return null;
    }, { scope: "tokens:write", params: id("pat"), detail: { summary: "Revoke a token (effective at once)", tags: ["tokens"] } })
    .get("/v1/service-accounts", ({ caller }) => caller.tenant((tx) => listServiceAccounts(tx, caller.principal.workspaceId)), { scope: "members:read", detail: { summary: "List service accounts", tags: ["members"] } })
    .post("/v1/service-accounts", ({ caller, body, set }) => {
      set.status = 201;
      return caller.tenant((tx) => createServiceAccount(tx, callerOf(caller), body));
    }, { scope: "members:write", body: t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), role: Role }, { additionalProperties: false }), detail: { summary: "Create a service account (a machine identity with a role)", tags: ["members"] } })
    .post("/v1/service-accounts/:id/tokens", ({ caller, params, body, set }) => {
      set.status = 201;
      return caller.tenant((tx) => createServiceAccountToken(tx, callerOf(caller), params.id, body));
    }, {
      scope: "members:write",
      params: id("sa"),
      body: t.Object({ name: t.String({ minLength: 1, maxLength: 100 }), scopes: t.Array(Scope, { minItems: 1, uniqueItems: true }), expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })) }, { additionalProperties: false }),
      detail: { summary: "Create a token for a service account (shown once)", tags: ["members"] },
    });
}
