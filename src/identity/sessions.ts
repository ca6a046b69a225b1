// Login, MFA completion, refresh-token rotation with reuse detection, logout.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import { ACCESS_TOKEN_SECONDS, signAccessToken, signMfaToken, verifyJwt, type JwtKeys } from "./jwt.ts";
import { effectiveScopes, isRole } from "./permissions.ts";
import { verifyPassword } from "./passwords.ts";
import { newToken, parseToken } from "./tokens.ts";
import { beginAttempt } from "./throttle.ts";
import { adoptLegacyFactor, verifyMfaCode } from "./mfa.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { passwordSignInAllowed } from "./sso/policy.ts";

export interface SessionDeps {
  door: <T>(workspaceId: string, fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /** A transaction as the runtime role with no workspace (login lookups and throttling). */
  anonymous: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
  jwt: JwtKeys;
  kek: KekProvider;
  idleMinutes: number;
  absoluteDays: number;
}

export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  workspace_id: string;
  role: string;
}

const FAILED = "email or password is incorrect";

export type AuthMethod = "password" | "idp";

/** Starts a session (a new refresh-token family) and returns the token pair. */
export async function startSession(
  tx: Tx,
  deps: SessionDeps,
  userId: string,
  workspaceId: string,
  context: RequestContext,
  proof: { method: AuthMethod; mfaVerified: boolean },
): Promise<TokenPair> {
  const [member] = await tx.query<{ role: string }>(
    "select role from memberships where workspace_id = $1 and user_id = $2 and status = 'active'",
    [workspaceId, userId],
  );
  if (!member || !isRole(member.role)) throw new AppError("unauthorized", FAILED);
  const refresh = newToken("rt", workspaceId);
  const id = newId("ses");
  await tx.query(
    `insert into sessions (workspace_id, id, user_id, family_id, refresh_token_hash, ip, user_agent, idle_expires_at, absolute_expires_at, mfa_verified, auth_method, authenticated_at)
     values ($1, $2, $3, $4, $5, $6::inet, $7, now() + make_interval(mins => $8), now() + make_interval(days => $9), $10, $11, now())`,
    [
      workspaceId,
      id,
      userId,
      id,
      refresh.hash,
      context.ip ?? null,
      context.userAgent?.slice(0, 512) ?? null,
      deps.idleMinutes,
      deps.absoluteDays,
      proof.mfaVerified,
      proof.method,
    ],
  );
  await tx.query("update users set last_login_at = now() where id = $1", [userId]);
  const access = await signAccessToken(deps.jwt, {
    sub: userId,
    ws: workspaceId,
    role: member.role,
    scopes: [...effectiveScopes(member.role, ["*"])],
    sid: id,
  });
  return {
    access_token: access,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_SECONDS,
    refresh_token: refresh.token,
    workspace_id: workspaceId,
    role: member.role,
  };
}

export async function login(
  deps: SessionDeps,
  input: { email: string; password: string; workspace_id?: string },
  context: RequestContext,
): Promise<TokenPair | { mfa_required: true; mfa_token: string }> {
  const email = input.email.trim().toLowerCase();
  const settle = await beginAttempt(deps.anonymous, { scope: "login", account: email, ip: context.ip });
  const [found] = await deps.anonymous((tx) =>
    tx.query<{
      user_id: string | null;
      password_hash: string | null;
      user_status: string | null;
      workspace_ids: string[];
      mfa_enabled: boolean | null;
    }>("select * from auth_login_lookup($1)", [email]),
  );
  const passwordOk = await verifyPassword(input.password, found?.password_hash ?? null);
  const workspaces = found?.workspace_ids ?? [];
  const workspaceId = input.workspace_id ?? workspaces[0];
  if (
    !passwordOk ||
    !found?.user_id ||
    found.user_status !== "active" ||
    !workspaceId ||
    !workspaces.includes(workspaceId)
  ) {
    await settle(false);
    // Failures are audited in the account's workspaces (the caller learns nothing from it).
    for (const ws of workspaces) {
      await deps.door(ws, (tx) =>
        appendAudit(tx, {
          workspaceId: ws,
          action: "auth.login_failed",
          actorId: found?.user_id ?? null,
          actorType: "user",
          targetType: "user",
          targetId: found?.user_id ?? undefined,
          context,
        }),
      );
    }
    throw new AppError("unauthorized", FAILED);
  }
  await settle(true);
  const userId = found.user_id;
  await refuseWhereSsoEnforced(deps, workspaceId, userId, context);
  // The second factor is the account's: asked at every password login, whichever workspace it is into.
  if (found.mfa_enabled)
    return { mfa_required: true as const, mfa_token: await signMfaToken(deps.jwt, userId, workspaceId) };
  return deps.door(workspaceId, async (tx) => {
    const pair = await startSession(tx, deps, userId, workspaceId, context, { method: "password", mfaVerified: false });
    await appendAudit(tx, {
      workspaceId,
      action: "auth.login",
      actorId: userId,
      actorType: "user",
      targetType: "user",
      targetId: userId,
      context,
    });
    return pair;
  });
}

/** A workspace that enforces single sign-on takes no password sign-in but from its break-glass owners (audited). */
async function refuseWhereSsoEnforced(
  deps: SessionDeps,
  workspaceId: string,
  userId: string,
  context: RequestContext,
): Promise<void> {
  if (await deps.door(workspaceId, (tx) => passwordSignInAllowed(tx, workspaceId, userId))) return;
  await deps.door(workspaceId, (tx) =>
    appendAudit(tx, {
      workspaceId,
      action: "auth.login_refused",
      actorId: userId,
      actorType: "user",
      targetType: "user",
      targetId: userId,
      after: { reason: "sso_enforced" },
      context,
    }),
  );
  throw new AppError("forbidden", "this workspace requires single sign-on: sign in through its identity provider");
}

export async function completeMfa(
  deps: SessionDeps,
  input: { mfa_token: string; code: string },
  context: RequestContext,
): Promise<TokenPair> {
  const claims = await verifyJwt(deps.jwt, input.mfa_token, "mfa");
  const userId = String(claims.sub);
  const workspaceId = String(claims.ws);
  const settle = await beginAttempt(deps.anonymous, { scope: "mfa", account: userId, ip: context.ip });
  await adoptLegacyFactor(deps.door, deps.kek, workspaceId, userId);
  const ok = await deps.door(workspaceId, (tx) => verifyMfaCode(tx, deps.kek, userId, input.code));
  if (!ok) {
    await settle(false);
    await deps.door(workspaceId, (tx) =>
      appendAudit(tx, {
        workspaceId,
        action: "auth.mfa_failed",
        actorId: userId,
        actorType: "user",
        targetType: "user",
        targetId: userId,
        context,
      }),
    );
    throw new AppError("unauthorized", "the code is not valid");
  }
  await settle(true);
  await refuseWhereSsoEnforced(deps, workspaceId, userId, context);
  return deps.door(workspaceId, async (tx) => {
    const pair = await startSession(tx, deps, userId, workspaceId, context, { method: "password", mfaVerified: true });
    await appendAudit(tx, {
      workspaceId,
      action: "auth.login",
      actorId: userId,
      actorType: "user",
      targetType: "user",
      targetId: userId,
      after: { mfa: true },
      context,
    });
    return pair;
  });
}

interface SessionRow {
  id: string;
  user_id: string;
  family_id: string;
  replaced_by: string | null;
  revoked_at: Date | null;
  idle_expires_at: Date;
  absolute_expires_at: Date;
  mfa_verified: boolean;
}

/** Rotates the refresh token; presenting a token that was already rotated revokes its whole family. */
export async function refresh(deps: SessionDeps, refreshToken: string, context: RequestContext): Promise<TokenPair> {
  const parsed = parseToken("rt", refreshToken);
  if (!parsed) throw new AppError("unauthorized", "missing, malformed, expired or revoked credentials");
  const outcome = await deps.door(parsed.workspaceId, async (tx): Promise<TokenPair | "reused" | "invalid"> => {
    const [row] = await tx.query<SessionRow>(
      "select id, user_id, family_id, replaced_by, revoked_at, idle_expires_at, absolute_expires_at, mfa_verified from sessions where workspace_id = $1 and refresh_token_hash = $2 for update",
      [parsed.workspaceId, parsed.hash],
    );
    if (!row) return "invalid";
    if (row.replaced_by) {
      await tx.query(
        "update sessions set revoked_at = coalesce(revoked_at, now()) where workspace_id = $1 and family_id = $2",
        [parsed.workspaceId, row.family_id],
      );
      await appendAudit(tx, {
        workspaceId: parsed.workspaceId,
        action: "auth.refresh_reused",
        actorId: row.user_id,
        actorType: "user",
        targetType: "session",
        targetId: row.family_id,
        context,
      });
      return "reused";
    }
    const now = Date.now();
    if (
      row.revoked_at ||
      new Date(row.idle_expires_at).getTime() <= now ||
      new Date(row.absolute_expires_at).getTime() <= now
    )
      return "invalid";
    const [member] = await tx.query<{ role: string }>(
      "select role from memberships where workspace_id = $1 and user_id = $2 and status = 'active'",
      [parsed.workspaceId, row.user_id],
    );
    if (!member || !isRole(member.role)) return "invalid";
    const next = newToken("rt", parsed.workspaceId);
    const id = newId("ses");
    await tx.query(
      `insert into sessions (workspace_id, id, user_id, family_id, refresh_token_hash, ip, user_agent, idle_expires_at, absolute_expires_at, mfa_verified, auth_method, authenticated_at)
       select workspace_id, $3, user_id, family_id, $4, $5::inet, $6, least(now() + make_interval(mins => $7), absolute_expires_at), absolute_expires_at, mfa_verified, auth_method, authenticated_at
         from sessions where workspace_id = $1 and id = $2`,
      [
        parsed.workspaceId,
        row.id,
        id,
        next.hash,
        context.ip ?? null,
        context.userAgent?.slice(0, 512) ?? null,
        deps.idleMinutes,
      ],
    );
    await tx.query("update sessions set replaced_by = $3, last_used_at = now() where workspace_id = $1 and id = $2", [
      parsed.workspaceId,
      row.id,
      id,
    ]);
    await appendAudit(tx, {
      workspaceId: parsed.workspaceId,
      action: "auth.token_refreshed",
      actorId: row.user_id,
      actorType: "user",
      targetType: "session",
      targetId: row.family_id,
      context,
    });
    const access = await signAccessToken(deps.jwt, {
      sub: row.user_id,
      ws: parsed.workspaceId,
      role: member.role,
      scopes: [...effectiveScopes(member.role, ["*"])],
      sid: id,
    });
    return {
      access_token: access,
      token_type: "Bearer",
      expires_in: ACCESS_TOKEN_SECONDS,
      refresh_token: next.token,
      workspace_id: parsed.workspaceId,
      role: member.role,
    };
  });
  if (outcome === "reused")
    throw new AppError("unauthorized", "this refresh token was already used; every session of its family is revoked");
  if (outcome === "invalid") throw new AppError("unauthorized", "missing, malformed, expired or revoked credentials");
  return outcome;
}

export async function logout(deps: SessionDeps, refreshToken: string, context: RequestContext): Promise<void> {
  const parsed = parseToken("rt", refreshToken);
  if (!parsed) return;
  await deps.door(parsed.workspaceId, async (tx) => {
    const [row] = await tx.query<{ family_id: string; user_id: string }>(
      "select family_id, user_id from sessions where workspace_id = $1 and refresh_token_hash = $2",
      [parsed.workspaceId, parsed.hash],
    );
    if (!row) return;
    await tx.query(
      "update sessions set revoked_at = coalesce(revoked_at, now()) where workspace_id = $1 and family_id = $2",
      [parsed.workspaceId, row.family_id],
    );
    await appendAudit(tx, {
      workspaceId: parsed.workspaceId,
      action: "auth.logout",
      actorId: row.user_id,
      actorType: "user",
      targetType: "session",
      targetId: row.family_id,
      context,
    });
  });
}
