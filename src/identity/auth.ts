// Authentication and scope checks for every protected route: an Elysia macro `scope` that resolves the
// caller through the tenant door and hands the route its principal and a door bound to its workspace.
import { Elysia } from "elysia";
import type { Tx } from "../db/engine.ts";
import { type DoorEntry, heldDoor, holdTenant, isWorkspaceId, type HeldTenant, type TenantDoor } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import type { Actor, RequestContext } from "../audit/service.ts";
import { effectiveScopes, isRole, type Role, type Scope } from "./permissions.ts";
import { parsePat } from "./tokens.ts";
import { verifyJwt, type JwtKeys } from "./jwt.ts";

export interface Principal {
  workspaceId: string;
  /** The user (or service account) acting. */
  actorId: string;
  actorType: "user" | "service_account";
  /** The personal access token, or the session, that authenticated this call. */
  tokenId: string;
  via: "pat" | "session";
  role: Role;
  scopes: ReadonlySet<Scope>;
  /** Sessions only: how the person proved who they are, when, and whether with a second factor. */
  session?: { method: "password" | "idp"; authenticatedAt: Date; mfaVerified: boolean };
  /** Set when the workspace requires MFA and this session has none: only /v1/me (and MFA enrolment) answer. */
  mfaEnrolmentRequired?: boolean;
}

/** How recent a password login must be for account-level changes (password, MFA, tokens). */
export const RECENT_AUTH_MINUTES = 15;

/**
 * Account-level actions need an interactive session (never a PAT or service-account token), from a password
 * login when `passwordLogin` (an identity provider's session cannot change the account's credentials), and
 * with a password proof at most RECENT_AUTH_MINUTES old when `recent`.
 */
export function requireInteractive(
  principal: Principal,
  options: { recent?: boolean; passwordLogin?: boolean } = {},
): void {
  const session = principal.session;
  if (principal.via !== "session" || principal.actorType !== "user" || !session) {
    throw new AppError("forbidden", "this is an account-level action: sign in interactively (a token cannot do it)", {
      reason: "interactive_session_required",
    });
  }
  if (options.passwordLogin && session.method !== "password") {
    throw new AppError(
      "forbidden",
      "a session from an identity provider cannot change the account's credentials; use your identity provider",
      { reason: "password_login_required" },
    );
  }
  if (options.recent && Date.now() - session.authenticatedAt.getTime() > RECENT_AUTH_MINUTES * 60_000) {
    throw new AppError(
      "forbidden",
      `sign in again to do this (your last sign-in is more than ${RECENT_AUTH_MINUTES} minutes old)`,
      { reason: "reauthentication_required" },
    );
  }
}

export interface AuthDeps {
  door: TenantDoor;
  /** Access-token keys; without them only personal access tokens authenticate. */
  jwt?: JwtKeys;
  /**
   * Called once the credential is proven, before scope checks: the front door notes the workspace for its log
   * and applies the credential's and workspace's rate limits (it throws 429 past them).
   */
  authenticated?: (request: Request, principal: Principal, door: TenantDoor) => void | Promise<void>;
  /**
   * Read requests (GET, HEAD) authenticate and run in one held transaction; the front door receives it here
   * and finishes it once the route has answered. Without this hook every request uses two transactions.
   */
  hold?: (request: Request, held: HeldTenant) => void;
  /**
   * Writes that may run the same way: routes whose whole work is one tenant transaction with no effect outside
   * it before it commits (no hand-over to another process, no Idempotency-Key record). Reads always may.
   */
  holdWrite?: (request: Request) => boolean;
  requestId?: (request: Request) => string;
  /** The client's address as the front door resolved it (trusted proxies honoured). */
  clientIp?: (request: Request) => string | undefined;
}

const UNAUTHORIZED = "missing, malformed, expired or revoked credentials";

interface TokenRow {
  id: string;
  user_id: string | null;
  service_account_id: string | null;
  role: string;
  scopes: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  ws_deleted_at: Date | null;
  member_status: string | null;
}

export async function authenticate(
  door: TenantDoor,
  authorization: string | null,
  jwt?: JwtKeys,
  /** The door's entry made from this same header (credentialEntry), with the token row it read, if any. */
  entered?: DoorEntry,
): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  if (jwt && match?.[1]?.startsWith("ey")) return authenticateSession(door, jwt, match[1], entered);
  // The door was entered with this very header's token (credentialEntry parsed and checksummed it): not twice.
  const parsed = entered?.pat ?? (match?.[1] ? parsePat(match[1]) : undefined);
  if (!parsed) throw new AppError("unauthorized", UNAUTHORIZED);
  const principal = await door(parsed.workspaceId, async (tx) => {
    // parsed is entered.pat whenever there is one: its row, when the door read it, is this token's.
    const preread = entered?.pat ? (entered.rows as unknown as TokenRow[] | undefined) : undefined;
    const [row] =
      preread ??
      (await tx.query<TokenRow>(
        `select t.id, t.user_id, t.service_account_id, t.role, t.scopes, t.expires_at, t.revoked_at, t.last_used_at,
              w.deleted_at as ws_deleted_at,
              (select m.status from memberships m where m.workspace_id = t.workspace_id and m.user_id = t.user_id) as member_status
         from personal_access_tokens t join workspaces w on w.id = t.workspace_id
        where t.workspace_id = $1 and t.pat_hash = $2`,
        [parsed.workspaceId, parsed.hash],
      ));
    if (!row) throw new AppError("unauthorized", UNAUTHORIZED);
    if (row.ws_deleted_at)
      throw new AppError(
        "workspace_disabled",
        "this workspace is disabled (offboarded); contact your Causeloop operator",
      );
    const expired = row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now();
    if (row.revoked_at || expired || !isRole(row.role)) throw new AppError("unauthorized", UNAUTHORIZED);
    if (row.user_id && row.member_status !== "active") throw new AppError("unauthorized", UNAUTHORIZED);
    if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000) {
      await tx.query("update personal_access_tokens set last_used_at = now() where workspace_id = $1 and id = $2", [
        parsed.workspaceId,
        row.id,
      ]);
    }
    return {
      workspaceId: parsed.workspaceId,
      actorId: (row.user_id ?? row.service_account_id) as string,
      actorType: row.user_id ? "user" : "service_account",
      tokenId: row.id,
      via: "pat",
      role: row.role,
      scopes: effectiveScopes(row.role, row.scopes),
    } satisfies Principal;
  });
  return principal;
}

/** What a session without the second factor a workspace requires may still reach: itself and MFA enrolment. */
function isMfaEnrolmentPath(path: string): boolean {
  return path === "/v1/me" || path.startsWith("/v1/me/mfa/");
}

/** What decides whether a session still holds: its membership, the workspace and the session row. */
interface SessionRow {
  role: string;
  ws_deleted_at: Date | null;
  revoked_at: Date | null;
  require_mfa: boolean;
  mfa_verified: boolean;
  auth_method: "password" | "idp";
  authenticated_at: Date;
}

/** A session's access token (JWT): still valid only while the session, membership and workspace are. */
export async function authenticateSession(
  door: TenantDoor,
  keys: JwtKeys,
  token: string,
  /** What the door read on entering with this session (a held request): used once the signature is verified. */
  entered?: DoorEntry,
): Promise<Principal> {
  const claims = await verifyJwt(keys, token, "access");
  const ws = String(claims.ws ?? "");
  const userId = String(claims.sub ?? "");
  const sid = String(claims.sid ?? "");
  const preread =
    entered?.session?.userId === userId && entered.session.sessionId === sid
      ? (entered.rows as unknown as SessionRow[])
      : undefined;
  return door(ws, async (tx) => {
    const [row] =
      preread ??
      (await tx.query<SessionRow>(
        `select m.role, w.deleted_at as ws_deleted_at, s.revoked_at, w.require_mfa, s.mfa_verified, s.auth_method, s.authenticated_at
           from memberships m join workspaces w on w.id = m.workspace_id
           join sessions s on s.workspace_id = m.workspace_id and s.id = $3 and s.user_id = m.user_id
          where m.workspace_id = $1 and m.user_id = $2 and m.status = 'active'`,
        [ws, userId, sid],
      ));
    if (!row || !isRole(row.role)) throw new AppError("unauthorized", UNAUTHORIZED);
    if (row.ws_deleted_at)
      throw new AppError(
        "workspace_disabled",
        "this workspace is disabled (offboarded); contact your Causeloop operator",
      );
    if (row.revoked_at) throw new AppError("unauthorized", UNAUTHORIZED);
    const scopes = Array.isArray(claims.scopes) ? (claims.scopes as string[]) : [];
    return {
      workspaceId: ws,
      actorId: userId,
      actorType: "user",
      tokenId: sid,
      via: "session",
      role: row.role,
      scopes: effectiveScopes(row.role, scopes),
      session: {
        method: row.auth_method,
        authenticatedAt: new Date(row.authenticated_at),
        mfaVerified: row.mfa_verified,
      },
      mfaEnrolmentRequired: row.require_mfa && row.auth_method === "password" && !row.mfa_verified,
    } satisfies Principal;
  });
}

/**
 * The workspace a credential names, read without verifying it (a PAT carries it, a session JWT its `ws`
 * claim), with how the door may enter it (the PAT's hash; the session's user and id): only to enter that
 * workspace's door early and read the credential there; the credential is then verified inside it.
 */
export function credentialEntry(authorization: string | null): { workspaceId: string; entry: DoorEntry } | undefined {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (!token) return undefined;
  const pat = parsePat(token);
  if (pat) return { workspaceId: pat.workspaceId, entry: { pat } };
  const payload = token.split(".")[1];
  if (!token.startsWith("ey") || !payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const { ws, sub, sid } = claims;
    if (typeof ws !== "string" || typeof sub !== "string" || typeof sid !== "string") return undefined;
    return { workspaceId: ws, entry: { session: { userId: sub, sessionId: sid } } };
  } catch {
    return undefined;
  }
}

export function credentialWorkspace(authorization: string | null): string | undefined {
  return credentialEntry(authorization)?.workspaceId;
}

/** What a protected route receives besides the request. */
export interface Caller {
  principal: Principal;
  /** The tenant door bound to the caller's workspace: the only way the route reaches data. */
  tenant: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /** Request id, IP and user agent for the audit trail. */
  context: RequestContext;
  /** The principal as the audit trail names it (what services that write audit rows are given). */
  actor: Actor;
}

export function authPlugin(deps: AuthDeps) {
  // Authentication runs in the transform hook, before body/params validation, so an unauthenticated caller
  // always gets 401 and learns nothing about a route's shape; resolve then hands the route its caller.
  const principals = new WeakMap<Request, Principal>();
  const helds = new WeakMap<Request, HeldTenant>();
  return new Elysia({ name: "auth" }).macro({
    /** Declares the scope a route requires ("authenticated": any valid credential); the caller must hold it. */
    scope: (scope: Scope | "authenticated") => ({
      async transform({ request }) {
        const authorization = request.headers.get("authorization");
        const held = await holdForRequest(deps, request, authorization);
        const door = held ? heldDoor(held, deps.door) : deps.door;
        try {
          await checkCredential(request, door, authorization, scope);
        } catch (error) {
          await held?.finish(false);
          throw error;
        }
      },
      resolve({ request }) {
        const principal = principals.get(request);
        if (!principal) throw new AppError("unauthorized", UNAUTHORIZED);
        const held = helds.get(request);
        const context: RequestContext = {
          traceId: deps.requestId?.(request),
          ip: deps.clientIp?.(request),
          userAgent: request.headers.get("user-agent") ?? undefined,
        };
        const caller: Caller = {
          principal,
          tenant: (fn) => (held ? fn(held.tx) : deps.door(principal.workspaceId, fn)),
          context,
          actor: {
            workspaceId: principal.workspaceId,
            actorId: principal.actorId,
            actorType: principal.actorType,
            context,
          },
        };
        return { caller };
      },
    }),
  });

  /**
   * A read request (or a write its route declares one-transaction) with a credential that names its workspace:
   * the door, entered once for the whole request; the front door commits it below 400, else rolls it back.
   */
  async function holdForRequest(
    deps: AuthDeps,
    request: Request,
    authorization: string | null,
  ): Promise<HeldTenant | undefined> {
    const read = request.method === "GET" || request.method === "HEAD";
    if (!deps.hold || !(read || deps.holdWrite?.(request))) return undefined;
    const named = credentialEntry(authorization);
    if (!named || !isWorkspaceId(named.workspaceId)) return undefined;
    // The credential enters the door and is read in one statement (enter_with_pat, enter_with_session).
    const held = await holdTenant(deps.door, named.workspaceId, named.entry);
    helds.set(request, held);
    deps.hold(request, held);
    return held;
  }

  async function checkCredential(
    request: Request,
    door: TenantDoor,
    authorization: string | null,
    scope: Scope | "authenticated",
  ) {
    const principal = await authenticate(door, authorization, deps.jwt, helds.get(request)?.entry);
    await deps.authenticated?.(request, principal, door);
    if (principal.mfaEnrolmentRequired && !isMfaEnrolmentPath(new URL(request.url).pathname)) {
      throw new AppError(
        "forbidden",
        "this workspace requires multi-factor authentication: enrol a second factor (POST /v1/me/mfa/totp), then sign in again",
        { reason: "mfa_required" },
      );
    }
    if (scope !== "authenticated" && !principal.scopes.has(scope))
      throw new AppError("forbidden", `this route requires the ${scope} scope`, { required_scope: scope });
    principals.set(request, principal);
  }
}
