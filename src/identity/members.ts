// Members of a workspace: invite by email with a role (a one-time invite token, since Causeloop sends no
// email), accept (a new account sets its first password; an existing one proves itself), change role, remove (revokes that user's tokens and sessions here).
// The last owner can be neither removed nor demoted; nobody grants a role above their own.
import type { Static } from "elysia";
import type { Member } from "./schemas.ts";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import { ROLES, type Role } from "./permissions.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";
import { newToken, parseToken } from "./tokens.ts";
import type { Principal } from "./auth.ts";

const rank = (role: Role) => ROLES.length - ROLES.indexOf(role);

export function assertCanGrant(callerRole: Role, role: Role): void {
  if (rank(role) > rank(callerRole)) throw new AppError("forbidden", `a ${callerRole} cannot grant the ${role} role`);
}

/** A member as the API answers it (the contract's schema is the one definition). */
export type MemberView = Static<typeof Member>;

const MEMBER_VIEW = `select m.id, m.user_id, u.email, u.display_name, m.role, m.status, m.created_at
  from memberships m join users u on u.id = m.user_id`;

/** Members in the order they joined (keyset paging on their time-ordered ids). */
export async function listMembers(tx: Tx, workspaceId: string, query: PageQuery = {}): Promise<Page<MemberView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<MemberView & { created_at: Date }>(
    `${MEMBER_VIEW} where m.workspace_id = $1 and m.status <> 'removed' and ($2::text is null or m.id > $2)
      order by m.id limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(
    rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() })),
    limit,
  );
}

async function getMember(tx: Tx, workspaceId: string, id: string): Promise<MemberView> {
  const [row] = await tx.query<MemberView & { created_at: Date }>(
    `${MEMBER_VIEW} where m.workspace_id = $1 and m.id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", "no such member");
  return { ...row, created_at: new Date(row.created_at).toISOString() };
}

export async function inviteMember(
  tx: Tx,
  actor: Actor & { role: Role },
  input: { email: string; role: Role },
): Promise<{ member_id: string; invite_token: string; expires_at: string }> {
  assertCanGrant(actor.role, input.role);
  const [user] = await tx.query<{ id: string }>("select auth_ensure_user($1) as id", [
    input.email.trim().toLowerCase(),
  ]);
  const userId = user?.id as string;
  const [existing] = await tx.query<{ id: string; status: string }>(
    "select id, status from memberships where workspace_id = $1 and user_id = $2",
    [actor.workspaceId, userId],
  );
  if (existing && existing.status === "active")
    throw new AppError("conflict", "this person is already a member of the workspace");
  const invite = newToken("inv", actor.workspaceId);
  const id = existing?.id ?? newId("mem");
  if (existing) {
    await tx.query(
      "update memberships set role = $3, status = 'invited', invited_by = $4, invite_token_hash = $5, invite_expires_at = now() + interval '7 days', deleted_at = null where workspace_id = $1 and id = $2",
      [actor.workspaceId, id, input.role, actor.actorId, invite.hash],
    );
  } else {
    await tx.query(
      "insert into memberships (workspace_id, id, user_id, role, status, invited_by, invite_token_hash, invite_expires_at) values ($1, $2, $3, $4, 'invited', $5, $6, now() + interval '7 days')",
      [actor.workspaceId, id, userId, input.role, actor.actorId, invite.hash],
    );
  }
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "member.invited",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "membership",
    targetId: id,
    after: { user_id: userId, role: input.role },
    context: actor.context,
  });
  return { member_id: id, invite_token: invite.token, expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString() };
}

const INVALID_INVITE = "the invitation is not valid or has expired, or the account could not be verified";

export interface InviteProof {
  /** The password of the existing account, or the first password of a new one. */
  password?: string;
  /** A signed-in session (from a password login) of the invited account itself, in any workspace. */
  session?: Principal;
}

/**
 * Accepting an invitation (or the owner's setup token from onboarding). An account that is NEW (no password,
 * not bound to an identity provider, no other workspace) sets its first password here. An existing account
 * joins only by proving it is that account: its current password, or a password-login session of its own.
 * An invitation never sets or changes an existing account's password, and every refusal reads the same, so
 * the answer does not tell whether the email has an account.
 */
export async function acceptInvite(
  door: <T>(ws: string, fn: (tx: Tx) => Promise<T>) => Promise<T>,
  input: { invite_token: string; display_name?: string } & InviteProof,
  context?: RequestContext,
): Promise<{ workspace_id: string; user_id: string }> {
  const parsed = parseToken("inv", input.invite_token);
  if (!parsed) throw new AppError("unauthorized", INVALID_INVITE);
  // The same policy for everyone who sends a password, so a weak one is refused alike for new and existing accounts.
  if (input.password !== undefined) checkPasswordPolicy(input.password);
  return door(parsed.workspaceId, async (tx) => {
    const [row] = await tx.query<{
      id: string;
      user_id: string;
      status: string;
      password_hash: string | null;
      is_new: boolean;
      ws_deleted_at: Date | null;
    }>(
      `select m.id, m.user_id, m.status, u.password_hash, w.deleted_at as ws_deleted_at,
              -- a token on an ACTIVE membership is the setup token onboarding (an operator) issued for this very
              -- account; an invitation's token is held by a workspace admin, so it only reaches a brand-new account
              case when m.status = 'active' then u.password_hash is null and u.idp_connection_id is null
                   else auth_account_is_new(m.user_id) end as is_new
         from memberships m join users u on u.id = m.user_id join workspaces w on w.id = m.workspace_id
        where m.workspace_id = $1 and m.invite_token_hash = $2 and m.status in ('invited', 'active') and m.invite_expires_at > now()`,
      [parsed.workspaceId, parsed.hash],
    );
    // A wrong or used token still pays for one password hash, like a real attempt.
    if (!row) {
      await verifyPassword(input.password ?? "", null);
      throw new AppError("unauthorized", INVALID_INVITE);
    }
    if (row.ws_deleted_at)
      throw new AppError(
        "workspace_disabled",
        "this workspace is disabled (offboarded); its invitations cannot be accepted",
      );
    const setsFirstPassword = await proveAccount(row, input);
    await tx.query(
      "update memberships set status = 'active', invite_token_hash = null, invite_expires_at = null where workspace_id = $1 and id = $2",
      [parsed.workspaceId, row.id],
    );
    if (setsFirstPassword)
      await tx.query("select auth_set_password($1, $2, null)", [
        row.user_id,
        await hashPassword(input.password as string),
      ]);
    if (input.display_name)
      await tx.query("update users set display_name = $2 where id = $1", [row.user_id, input.display_name]);
    await appendAudit(tx, {
      workspaceId: parsed.workspaceId,
      action: row.status === "active" ? "user.password_set" : "member.joined",
      actorId: row.user_id,
      actorType: "user",
      targetType: "membership",
      targetId: row.id,
      after: { proof: input.session ? "session" : setsFirstPassword ? "new_account" : "password" },
      context,
    });
    return { workspace_id: parsed.workspaceId, user_id: row.user_id };
  });
}

/** True when the proof is a new account's first password (to be set); throws unless the account is proven. */
async function proveAccount(
  row: { user_id: string; password_hash: string | null; is_new: boolean },
  proof: InviteProof,
): Promise<boolean> {
  if (proof.session) {
    if (proof.session.actorId !== row.user_id || proof.session.session?.method !== "password")
      throw new AppError("unauthorized", INVALID_INVITE);
    return false;
  }
  if (proof.password === undefined) throw new AppError("unauthorized", INVALID_INVITE);
  if (row.password_hash) {
    if (!(await verifyPassword(proof.password, row.password_hash))) throw new AppError("unauthorized", INVALID_INVITE);
    return false;
  }
  // No password: only a new account sets one here; an existing account without one (onboarded with a token,
  // provisioned by an IdP) must prove itself with a session. Hash anyway so both take the same time.
  await verifyPassword(proof.password, null);
  if (!row.is_new) throw new AppError("unauthorized", INVALID_INVITE);
  return true;
}

/** The number of active owners (the last one can be neither removed nor demoted). */
export async function activeOwners(tx: Tx, workspaceId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>(
    "select count(*)::int as n from memberships where workspace_id = $1 and role = 'owner' and status = 'active'",
    [workspaceId],
  );
  return row?.n ?? 0;
}

async function member(
  tx: Tx,
  workspaceId: string,
  id: string,
): Promise<{ id: string; user_id: string; role: Role; status: string }> {
  const [row] = await tx.query<{ id: string; user_id: string; role: Role; status: string }>(
    "select id, user_id, role, status from memberships where workspace_id = $1 and id = $2 and status <> 'removed'",
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `member ${id} not found`);
  return row;
}

export async function changeRole(tx: Tx, actor: Actor & { role: Role }, id: string, role: Role): Promise<MemberView> {
  const row = await member(tx, actor.workspaceId, id);
  assertCanGrant(actor.role, role);
  assertCanGrant(actor.role, row.role);
  if (
    row.role === "owner" &&
    role !== "owner" &&
    row.status === "active" &&
    (await activeOwners(tx, actor.workspaceId)) <= 1
  )
    throw new AppError("conflict", "the last owner cannot be demoted");
  await tx.query("update memberships set role = $3 where workspace_id = $1 and id = $2", [actor.workspaceId, id, role]);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "member.role_changed",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "membership",
    targetId: id,
    before: { role: row.role },
    after: { role },
    context: actor.context,
  });
  return getMember(tx, actor.workspaceId, id);
}

export async function removeMember(tx: Tx, actor: Actor & { role: Role }, id: string): Promise<void> {
  const row = await member(tx, actor.workspaceId, id);
  assertCanGrant(actor.role, row.role);
  if (row.role === "owner" && row.status === "active" && (await activeOwners(tx, actor.workspaceId)) <= 1)
    throw new AppError("conflict", "the last owner cannot be removed");
  await revokeWorkspaceAccess(tx, actor.workspaceId, row.user_id, "member_removed");
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "member.removed",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "membership",
    targetId: id,
    before: { user_id: row.user_id, role: row.role },
    context: actor.context,
  });
}

/**
 * Ends a person's access to the workspace at once, in the caller's transaction: the membership is removed and
 * their tokens and sessions here (refresh tokens with them) are revoked. Other workspaces are untouched.
 */
export async function revokeWorkspaceAccess(
  tx: Tx,
  workspaceId: string,
  userId: string,
  reason: "member_removed" | "deprovisioned" | "access_review",
): Promise<void> {
  await tx.query(
    "update memberships set status = 'removed', deleted_at = now(), invite_token_hash = null where workspace_id = $1 and user_id = $2",
    [workspaceId, userId],
  );
  await tx.query(
    "update personal_access_tokens set revoked_at = now(), revoked_reason = $3 where workspace_id = $1 and user_id = $2 and revoked_at is null",
    [workspaceId, userId, reason],
  );
  await tx.query(
    "update sessions set revoked_at = now() where workspace_id = $1 and user_id = $2 and revoked_at is null",
    [workspaceId, userId],
  );
}
