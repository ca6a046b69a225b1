// Members of a workspace: invite by email with a role (a one-time invite token, since Causeloop sends no
// email), accept (sets the password), change role, remove (revokes that user's tokens and sessions here).
// The last owner can be neither removed nor demoted; nobody grants a role above their own.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import type { Actor } from "../incidents/service.ts";
import { ROLES, type Role } from "./permissions.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";
import { newToken, parseToken } from "./tokens.ts";

const rank = (role: Role) => ROLES.length - ROLES.indexOf(role);

export function assertCanGrant(callerRole: Role, role: Role): void {
  if (rank(role) > rank(callerRole)) throw new AppError("forbidden", `a ${callerRole} cannot grant the ${role} role`);
}

export interface MemberView {
  id: string;
  user_id: string;
  email: string;
  display_name: string | null;
  role: string;
  status: string;
  created_at: string;
}

export async function listMembers(tx: Tx, workspaceId: string): Promise<MemberView[]> {
  const rows = await tx.query<MemberView & { created_at: Date }>(
    `select m.id, m.user_id, u.email, u.display_name, m.role, m.status, m.created_at from memberships m join users u on u.id = m.user_id
      where m.workspace_id = $1 and m.status <> 'removed' order by m.created_at`,
    [workspaceId],
  );
  return rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
}

export async function inviteMember(tx: Tx, actor: Actor & { role: Role }, input: { email: string; role: Role }): Promise<{ member_id: string; invite_token: string; expires_at: string }> {
  assertCanGrant(actor.role, input.role);
  const [user] = await tx.query<{ id: string }>("select auth_ensure_user($1) as id", [input.email.trim().toLowerCase()]);
  const userId = user?.id as string;
  const [existing] = await tx.query<{ id: string; status: string }>("select id, status from memberships where workspace_id = $1 and user_id = $2", [actor.workspaceId, userId]);
  if (existing && existing.status === "active") throw new AppError("conflict", "this person is already a member of the workspace");
  const invite = newToken("inv", actor.workspaceId);
  const id = existing?.id ?? newId("mem");
  if (existing) {
    await tx.query("update memberships set role = $3, status = 'invited', invited_by = $4, invite_token_hash = $5, invite_expires_at = now() + interval '7 days', deleted_at = null where workspace_id = $1 and id = $2", [actor.workspaceId, id, input.role, actor.actorId, invite.hash]);
  } else {
    await tx.query("insert into memberships (workspace_id, id, user_id, role, status, invited_by, invite_token_hash, invite_expires_at) values ($1, $2, $3, $4, 'invited', $5, $6, now() + interval '7 days')", [actor.workspaceId, id, userId, input.role, actor.actorId, invite.hash]);
  }
  await appendAudit(tx, { workspaceId: actor.workspaceId, action: "member.invited", actorId: actor.actorId, actorType: actor.actorType, targetType: "membership", targetId: id, after: { user_id: userId, role: input.role }, context: actor.context });
  return { member_id: id, invite_token: invite.token, expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString() };
}

/** Accepting an invitation: the person sets a password (or proves the one they have) and becomes active. */
export async function acceptInvite(door: <T>(ws: string, fn: (tx: Tx) => Promise<T>) => Promise<T>, input: { invite_token: string; password: string; display_name?: string }, context?: RequestContext): Promise<{ workspace_id: string; user_id: string }> {
  const parsed = parseToken("inv", input.invite_token);
  if (!parsed) throw new AppError("unauthorized", "the invitation is not valid or has expired");
  return door(parsed.workspaceId, async (tx) => {
    const [row] = await tx.query<{ id: string; user_id: string; password_hash: string | null }>(
      `select m.id, m.user_id, u.password_hash from memberships m join users u on u.id = m.user_id
        where m.workspace_id = $1 and m.invite_token_hash = $2 and m.status = 'invited' and m.invite_expires_at > now()`,
      [parsed.workspaceId, parsed.hash],
    );
    if (!row) throw new AppError("unauthorized", "the invitation is not valid or has expired");
    if (row.password_hash) {
      if (!(await verifyPassword(input.password, row.password_hash))) throw new AppError("unauthorized", "use the password of your existing Causeloop account");
    } else checkPasswordPolicy(input.password);
    await tx.query("update memberships set status = 'active', invite_token_hash = null, invite_expires_at = null where workspace_id = $1 and id = $2", [parsed.workspaceId, row.id]);
    if (!row.password_hash) await tx.query("select auth_set_invited_password($1, $2)", [row.user_id, await hashPassword(input.password)]);
    if (input.display_name) await tx.query("update users set display_name = $2 where id = $1", [row.user_id, input.display_name]);
    await appendAudit(tx, { workspaceId: parsed.workspaceId, action: "member.joined", actorId: row.user_id, actorType: "user", targetType: "membership", targetId: row.id, context });
    return { workspace_id: parsed.workspaceId, user_id: row.user_id };
  });
}

async function owners(tx: Tx, workspaceId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>("select count(*)::int as n from memberships where workspace_id = $1 and role = 'owner' and status = 'active'", [workspaceId]);
  return row?.n ?? 0;
}

async function member(tx: Tx, workspaceId: string, id: string): Promise<{ id: string; user_id: string; role: Role; status: string }> {
  const [row] = await tx.query<{ id: string; user_id: string; role: Role; status: string }>("select id, user_id, role, status from memberships where workspace_id = $1 and id = $2 and status <> 'removed'", [workspaceId, id]);
  if (!row) throw new AppError("not_found", `member ${id} not found`);
  return row;
}

export async function changeRole(tx: Tx, actor: Actor & { role: Role }, id: string, role: Role): Promise<MemberView> {
  const row = await member(tx, actor.workspaceId, id);
  assertCanGrant(actor.role, role);
  assertCanGrant(actor.role, row.role);
  if (row.role === "owner" && role !== "owner" && row.status === "active" && (await owners(tx, actor.workspaceId)) <= 1) throw new AppError("conflict", "the last owner cannot be demoted");
  await tx.query("update memberships set role = $3 where workspace_id = $1 and id = $2", [actor.workspaceId, id, role]);
  await appendAudit(tx, { workspaceId: actor.workspaceId, action: "member.role_changed", actorId: actor.actorId, actorType: actor.actorType, targetType: "membership", targetId: id, before: { role: row.role }, after: { role }, context: actor.context });
  return (await listMembers(tx, actor.workspaceId)).find((m) => m.id === id) as MemberView;
}

export async function removeMember(tx: Tx, actor: Actor & { role: Role }, id: string): Promise<void> {
  const row = await member(tx, actor.workspaceId, id);
  assertCanGrant(actor.role, row.role);
  if (row.role === "owner" && row.status === "active" && (await owners(tx, actor.workspaceId)) <= 1) throw new AppError("conflict", "the last owner cannot be removed");
  await tx.query("update memberships set status = 'removed', deleted_at = now(), invite_token_hash = null where workspace_id = $1 and id = $2", [actor.workspaceId, id]);
  await tx.query("update personal_access_tokens set revoked_at = now(), revoked_reason = 'member_removed' where workspace_id = $1 and user_id = $2 and revoked_at is null", [actor.workspaceId, row.user_id]);
  await tx.query("update sessions set revoked_at = now() where workspace_id = $1 and user_id = $2 and revoked_at is null", [actor.workspaceId, row.user_id]);
  await appendAudit(tx, { workspaceId: actor.workspaceId, action: "member.removed", actorId: actor.actorId, actorType: actor.actorType, targetType: "membership", targetId: id, before: { user_id: row.user_id, role: row.role }, context: actor.context });
}
