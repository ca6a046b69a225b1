// Identity routes: the public auth endpoints (login, refresh, logout, MFA verify, accept invite), the caller
// (/v1/me, password, MFA), members, personal access tokens and service accounts.
import { PageQuery, responses } from "../http/contract.ts";
import {
  AcceptedInvitation,
  CreatedToken,
  Invitation,
  LinkedIdentity,
  Me,
  Member,
  MemberPage,
  MfaChallenge,
  RecoveryCodes,
  RotatedToken,
  ServiceAccount,
  ServiceAccountPage,
  Session,
  TokenPage,
  TotpEnrolment,
  WorkspaceSecurity,
} from "./schemas.ts";
import { Elysia, t } from "elysia";
import {
  authenticateSession,
  requireInteractive,
  type authPlugin,
  type Caller as RouteCaller,
  type Principal,
} from "./auth.ts";
import { AppError } from "../errors.ts";
import type { RequestContext } from "../audit/service.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { completeMfa, login, logout, refresh, type SessionDeps } from "./sessions.ts";
import { exchange, linkIdentity, type GlobalIdp } from "./exchange.ts";
import {
  changePassword,
  confirmTotpEnrolment,
  describeMe,
  setWorkspaceSecurity,
  startTotpEnrolment,
  turnOffTotp,
  workspaceSecurity,
} from "./account.ts";
import { acceptInvite, changeRole, inviteMember, listMembers, removeMember } from "./members.ts";
import {
  createPersonalToken,
  createServiceAccount,
  createServiceAccountToken,
  listServiceAccounts,
  listTokens,
  revokeToken,
  rotateToken,
  DEFAULT_ROTATION_GRACE_MINUTES,
  type Grantor,
} from "./access-tokens.ts";
import { ROLES, SCOPES } from "./permissions.ts";

const Role = t.Union(ROLES.map((r) => t.Literal(r)));
const Scope = t.Union(SCOPES.map((s) => t.Literal(s)));
const Email = t.String({ format: "email", maxLength: 254 });
const Password = t.String({ minLength: 1, maxLength: 1024 });
const id = (prefix: string) => t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$` }) });

const grantorOf = (c: RouteCaller): Grantor => ({ ...c.actor, role: c.principal.role, scopes: c.principal.scopes });

/** The session an accept-invite request is signed in with, if any (a bad one is a 401, never ignored). */
async function signedInSession(deps: SessionDeps, authorization: string | null): Promise<Principal | undefined> {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(ey\S+)$/i.exec(authorization);
  if (!match?.[1])
    throw new AppError(
      "unauthorized",
      "accept an invitation with a signed-in session's access token, or without credentials",
    );
  return authenticateSession(deps.door, deps.jwt, match[1]);
}

/** Routes anyone may call (they authenticate by what they carry in the body). */
export function publicAuthRoutes(
  deps: SessionDeps,
  contextOf: (request: Request) => RequestContext,
  globalIdp?: GlobalIdp,
) {
  return new Elysia({ name: "auth-public", prefix: "/v1/auth" })
    .post("/login", ({ body, request }) => login(deps, body, contextOf(request)), {
      body: t.Object(
        {
          email: t.String({ maxLength: 254 }),
          password: Password,
          workspace_id: t.Optional(t.String({ pattern: "^ws_[0-9a-z]{26}$" })),
        },
        { additionalProperties: false },
      ),
      detail: {
        summary: "Log in with email and password: tokens, or {mfa_required, mfa_token}",
        tags: ["auth"],
        responses: responses({ 200: t.Union([Session, MfaChallenge]) }, [401, 403]),
        security: [],
      },
    })
    .post("/mfa/verify", ({ body, request }) => completeMfa(deps, body, contextOf(request)), {
      body: t.Object(
        { mfa_token: t.String({ maxLength: 2000 }), code: t.String({ maxLength: 32 }) },
        { additionalProperties: false },
      ),
      detail: {
        summary: "Complete a login with a TOTP or recovery code",
        tags: ["auth"],
        responses: responses({ 200: Session }, [401, 403]),
        security: [],
      },
    })
    .post("/refresh", ({ body, request }) => refresh(deps, body.refresh_token, contextOf(request)), {
      body: t.Object({ refresh_token: t.String({ maxLength: 200 }) }, { additionalProperties: false }),
      detail: {
        summary: "Rotate a refresh token (reuse of a rotated one revokes the whole session family)",
        tags: ["auth"],
        responses: responses({ 200: Session }, [401]),
        security: [],
      },
    })
    .post(
      "/logout",
      async ({ body, request, set }) => {
        await logout(deps, body.refresh_token, contextOf(request));
        set.status = 204;
        return null;
      },
      {
        body: t.Object({ refresh_token: t.String({ maxLength: 200 }) }, { additionalProperties: false }),
        detail: {
          summary: "End a session (its whole refresh-token family)",
          tags: ["auth"],
          responses: responses({ 204: null }),
          security: [],
        },
      },
    )
    .post("/exchange", ({ body, request }) => exchange(deps, globalIdp, body, contextOf(request)), {
      body: t.Object(
        {
          token: t.String({ minLength: 10, maxLength: 8000 }),
          workspace_id: t.String({ pattern: "^ws_[0-9a-z]{26}$" }),
        },
        { additionalProperties: false },
      ),
      detail: {
        summary: "Exchange an identity provider's JWT (RS256/ES256, verified against its JWKS) for Causeloop tokens",
        tags: ["auth"],
        responses: responses({ 200: Session }, [401, 403]),
        security: [],
      },
    })
    .post(
      "/accept-invite",
      async ({ body, request }) => {
        const session = await signedInSession(deps, request.headers.get("authorization"));
        return acceptInvite(deps.door, { ...body, session }, contextOf(request));
      },
      {
        body: t.Object(
          {
            invite_token: t.String({ maxLength: 200 }),
            password: t.Optional(Password),
            display_name: t.Optional(t.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary:
            "Accept an invitation: a new account sets its first password; an existing account proves itself with its password or a signed-in session (Authorization: Bearer <access token>)",
          tags: ["auth"],
          responses: responses({ 200: AcceptedInvitation }, [401]),
          security: [],
        },
      },
    );
}

export function identityRoutes(
  auth: ReturnType<typeof authPlugin>,
  kek: KekProvider | undefined,
  sessions?: SessionDeps & { globalIdp?: GlobalIdp },
) {
  const needKek = () => {
    if (!kek) throw new AppError("internal", "MFA needs the master key ring");
    return kek;
  };
  return new Elysia({ name: "identity" })
    .use(auth)
    .get("/v1/me", ({ caller }) => caller.tenant((tx) => describeMe(tx, caller.principal)), {
      scope: "authenticated",
      detail: {
        summary: "The caller, its workspace, role and scopes",
        tags: ["identity"],
        responses: responses({ 200: Me }),
      },
    })
    .post(
      "/v1/me/password",
      async ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        await caller.tenant((tx) => changePassword(tx, caller.principal, body, caller.context));
        set.status = 204;
        return null;
      },
      {
        scope: "authenticated",
        body: t.Object({ current_password: Password, new_password: Password }, { additionalProperties: false }),
        detail: {
          summary:
            "Change the password (recent password sign-in required); every other session of the account, in every workspace, is revoked",
          tags: ["identity"],
          responses: responses({ 204: null }),
        },
      },
    )
    .post(
      "/v1/me/mfa/totp",
      ({ caller }) => {
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        return caller.tenant((tx) => startTotpEnrolment(tx, needKek(), caller.principal, caller.context));
      },
      {
        scope: "authenticated",
        detail: {
          summary: "Start TOTP enrolment for the account: an otpauth:// URI and its secret, shown once",
          tags: ["identity"],
          responses: responses({ 200: TotpEnrolment }, [409]),
        },
      },
    )
    .post(
      "/v1/me/mfa/totp/confirm",
      ({ caller, body }) => {
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        return caller.tenant((tx) => confirmTotpEnrolment(tx, needKek(), caller.principal, body.code, caller.context));
      },
      {
        scope: "authenticated",
        body: t.Object({ code: t.String({ maxLength: 16 }) }, { additionalProperties: false }),
        detail: {
          summary:
            "Confirm TOTP with a first code; returns 10 one-time recovery codes. From then on every password sign-in of the account, into any workspace, asks for a code",
          tags: ["identity"],
          responses: responses({ 200: RecoveryCodes }, [409]),
        },
      },
    )
    .post(
      "/v1/me/mfa/totp/disable",
      async ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        await caller.tenant((tx) => turnOffTotp(tx, needKek(), caller.principal, body.code, caller.context));
        set.status = 204;
        return null;
      },
      {
        scope: "authenticated",
        body: t.Object({ code: t.String({ maxLength: 32 }) }, { additionalProperties: false }),
        detail: {
          summary: "Disable the account's TOTP with a current or recovery code",
          tags: ["identity"],
          responses: responses({ 204: null }),
        },
      },
    )
    .post(
      "/v1/me/identities",
      ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        if (!sessions) throw new AppError("not_found", "single sign-on is not configured on this server");
        set.status = 201;
        return linkIdentity(sessions, sessions.globalIdp, caller.principal, body.token, caller.context);
      },
      {
        scope: "authenticated",
        body: t.Object({ token: t.String({ minLength: 10, maxLength: 8000 }) }, { additionalProperties: false }),
        detail: {
          summary:
            "Link an identity provider's identity (its JWT) to the signed-in account, so single sign-on can sign it into this workspace",
          tags: ["identity"],
          responses: responses({ 201: LinkedIdentity }, [401, 404, 409]),
        },
      },
    )
    .get(
      "/v1/workspace/security",
      ({ caller }) => caller.tenant((tx) => workspaceSecurity(tx, caller.principal.workspaceId)),
      {
        scope: "settings:read",
        detail: {
          summary: "The workspace's security policy",
          tags: ["identity"],
          responses: responses({ 200: WorkspaceSecurity }),
        },
      },
    )
    .patch(
      "/v1/workspace/security",
      ({ caller, body }) => caller.tenant((tx) => setWorkspaceSecurity(tx, caller.principal, body, caller.context)),
      {
        scope: "settings:write",
        body: t.Object({ require_mfa: t.Boolean() }, { additionalProperties: false }),
        detail: {
          summary:
            "Require a second factor of every member who signs in with a password (sessions without one reach only /v1/me and MFA enrolment)",
          tags: ["identity"],
          responses: responses({ 200: WorkspaceSecurity }, [409]),
        },
      },
    )
    .get(
      "/v1/members",
      ({ caller, query }) => caller.tenant((tx) => listMembers(tx, caller.principal.workspaceId, query)),
      {
        scope: "members:read",
        query: t.Object(PageQuery),
        detail: { summary: "List members", tags: ["members"], responses: responses({ 200: MemberPage }) },
      },
    )
    .post(
      "/v1/members",
      ({ caller, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => inviteMember(tx, grantorOf(caller), body));
      },
      {
        scope: "members:write",
        body: t.Object({ email: Email, role: Role }, { additionalProperties: false }),
        detail: {
          summary: "Invite someone by email with a role; returns a one-time invite token",
          tags: ["members"],
          responses: responses({ 201: Invitation }, [409]),
        },
      },
    )
    .patch(
      "/v1/members/:id",
      ({ caller, params, body }) => caller.tenant((tx) => changeRole(tx, grantorOf(caller), params.id, body.role)),
      {
        scope: "members:write",
        params: id("mem"),
        body: t.Object({ role: Role }, { additionalProperties: false }),
        detail: { summary: "Change a member's role", tags: ["members"], responses: responses({ 200: Member }, [409]) },
      },
    )
    .delete(
      "/v1/members/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => removeMember(tx, grantorOf(caller), params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "members:write",
        params: id("mem"),
        detail: {
          summary: "Remove a member (their tokens and sessions here stop working at once)",
          tags: ["members"],
          responses: responses({ 204: null }, [409]),
        },
      },
    )
    .post(
      "/v1/tokens",
      ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true });
        set.status = 201;
        return caller.tenant((tx) => createPersonalToken(tx, grantorOf(caller), body));
      },
      {
        scope: "tokens:write",
        body: t.Object(
          {
            name: t.String({ minLength: 1, maxLength: 100 }),
            scopes: t.Array(Scope, { minItems: 1, uniqueItems: true }),
            expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary:
            "Create a personal access token (shown once; scopes limited to the caller's; a recent interactive sign-in, never a token)",
          tags: ["tokens"],
          responses: responses({ 201: CreatedToken }),
        },
      },
    )
    .get(
      "/v1/tokens",
      ({ caller, query }) => {
        requireInteractive(caller.principal);
        return caller.tenant((tx) => listTokens(tx, grantorOf(caller), query));
      },
      {
        scope: "tokens:write",
        query: t.Object(PageQuery),
        detail: {
          summary: "List tokens: name, prefix, scopes, created, last used, expiry (interactive session only)",
          tags: ["tokens"],
          responses: responses({ 200: TokenPage }),
        },
      },
    )
    .delete(
      "/v1/tokens/:id",
      async ({ caller, params, set }) => {
        requireInteractive(caller.principal);
        await caller.tenant((tx) => revokeToken(tx, grantorOf(caller), params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "tokens:write",
        params: id("pat"),
        detail: {
          summary: "Revoke a token (effective at once)",
          tags: ["tokens"],
          responses: responses({ 204: null }),
        },
      },
    )
    .post(
      "/v1/tokens/:id/rotate",
      ({ caller, params, body }) => {
        requireInteractive(caller.principal, { recent: true });
        return caller.tenant((tx) => rotateToken(tx, grantorOf(caller), params.id, body?.grace_minutes));
      },
      {
        scope: "tokens:write",
        params: id("pat"),
        body: t.Optional(
          t.Object(
            {
              grace_minutes: t.Optional(
                t.Integer({
                  minimum: 0,
                  maximum: 10_080,
                  description: `How long the old secret keeps working (default ${DEFAULT_ROTATION_GRACE_MINUTES})`,
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        detail: {
          summary:
            "Rotate a token: a new secret (shown once) with the same scopes; the old one works for a grace period (your own tokens, or a service account's with members:write)",
          tags: ["tokens"],
          responses: responses({ 200: RotatedToken }, [409]),
        },
      },
    )
    .get(
      "/v1/service-accounts",
      ({ caller, query }) => caller.tenant((tx) => listServiceAccounts(tx, caller.principal.workspaceId, query)),
      {
        scope: "members:read",
        query: t.Object(PageQuery),
        detail: {
          summary: "List service accounts",
          tags: ["members"],
          responses: responses({ 200: ServiceAccountPage }),
        },
      },
    )
    .post(
      "/v1/service-accounts",
      ({ caller, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => createServiceAccount(tx, grantorOf(caller), body));
      },
      {
        scope: "members:write",
        body: t.Object(
          { name: t.String({ minLength: 1, maxLength: 100 }), role: Role },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Create a service account (a machine identity with a role)",
          tags: ["members"],
          responses: responses({ 201: ServiceAccount }, [409]),
        },
      },
    )
    .post(
      "/v1/service-accounts/:id/tokens",
      ({ caller, params, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => createServiceAccountToken(tx, grantorOf(caller), params.id, body));
      },
      {
        scope: "members:write",
        params: id("sa"),
        body: t.Object(
          {
            name: t.String({ minLength: 1, maxLength: 100 }),
            scopes: t.Array(Scope, { minItems: 1, uniqueItems: true }),
            expires_in_days: t.Optional(t.Integer({ minimum: 1, maximum: 3650 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Create a token for a service account (shown once)",
          tags: ["members"],
          responses: responses({ 201: CreatedToken }),
        },
      },
    );
}
