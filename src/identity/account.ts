// The signed-in person's account: who they are, their password, their second factor, and a workspace's
// security policy. Account-level changes take an interactive session (requireInteractive in the routes);
// these services do the work inside the caller's tenant door.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import type { Principal } from "./auth.ts";
import { confirmTotp, disableTotp, enrollTotp, mfaEnabled } from "./mfa.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";

export async function describeMe(tx: Tx, principal: Principal) {
  const [workspace] = await tx.query<{
    id: string;
    slug: string;
    name: string;
    organization_id: string;
    require_mfa: boolean;
  }>("select id, slug, name, organization_id, require_mfa from workspaces where id = $1", [principal.workspaceId]);
  const isUser = principal.actorType === "user";
  const [user] = isUser
    ? await tx.query<{ id: string; email: string; display_name: string | null }>(
        "select id, email, display_name from users where id = $1",
        [principal.actorId],
      )
    : [];
  return {
    actor: {
      id: principal.actorId,
      type: principal.actorType,
      email: user?.email ?? null,
      display_name: user?.display_name ?? null,
      mfa_enabled: isUser ? await mfaEnabled(tx, principal.actorId) : false,
    },
    workspace,
    role: principal.role,
    scopes: [...principal.scopes].sort(),
    via: principal.via,
    ...(principal.mfaEnrolmentRequired ? { mfa_enrolment_required: true } : {}),
  };
}

/** Changes the password (the current one is required) and revokes every other session of the account, everywhere. */
export async function changePassword(
  tx: Tx,
  principal: Principal,
  input: { current_password: string; new_password: string },
  context: RequestContext,
): Promise<void> {
  const [row] = await tx.query<{ password_hash: string | null }>("select password_hash from users where id = $1", [
    principal.actorId,
  ]);
  if (!(await verifyPassword(input.current_password, row?.password_hash ?? null)))
    throw new AppError("forbidden", "the current password is not correct");
  checkPasswordPolicy(input.new_password);
  const [revoked] = await tx.query<{ n: number }>("select auth_set_password($1, $2, $3) as n", [
    principal.actorId,
    await hashPassword(input.new_password),
    principal.tokenId,
  ]);
  await appendAudit(tx, {
    workspaceId: principal.workspaceId,
    action: "user.password_changed",
    actorId: principal.actorId,
    actorType: "user",
    targetType: "user",
    targetId: principal.actorId,
    after: { other_sessions_revoked: Number(revoked?.n ?? 0) },
    context,
  });
}

async function userEmail(tx: Tx, userId: string): Promise<string> {
  const [user] = await tx.query<{ email: string }>("select email from users where id = $1", [userId]);
  if (!user) throw new AppError("forbidden", "only people enrol MFA");
  return user.email;
}

export async function startTotpEnrolment(tx: Tx, kek: KekProvider, principal: Principal, context: RequestContext) {
  const enrolment = await enrollTotp(tx, kek, principal.actorId, await userEmail(tx, principal.actorId));
  await appendAudit(tx, {
    workspaceId: principal.workspaceId,
    action: "mfa.enrolment_started",
    actorId: principal.actorId,
    actorType: "user",
    targetType: "user",
    targetId: principal.actorId,
    context,
  });
  return enrolment;
}

export async function confirmTotpEnrolment(
  tx: Tx,
  kek: KekProvider,
  principal: Principal,
  code: string,
  context: RequestContext,
) {
  const result = await confirmTotp(tx, kek, principal.actorId, code);
  await appendAudit(tx, {
    workspaceId: principal.workspaceId,
    action: "mfa.enabled",
    actorId: principal.actorId,
    actorType: "user",
    targetType: "user",
    targetId: principal.actorId,
    context,
  });
  return result;
}

export async function turnOffTotp(
  tx: Tx,
  kek: KekProvider,
  principal: Principal,
  code: string,
  context: RequestContext,
): Promise<void> {
  if ((await workspaceSecurity(tx, principal.workspaceId)).require_mfa)
    throw new AppError(
      "conflict",
      "this workspace requires multi-factor authentication; MFA cannot be turned off from here",
    );
  await disableTotp(tx, kek, principal.actorId, code);
  await appendAudit(tx, {
    workspaceId: principal.workspaceId,
    action: "mfa.disabled",
    actorId: principal.actorId,
    actorType: "user",
    targetType: "user",
    targetId: principal.actorId,
    context,
  });
}

export interface WorkspaceSecurity {
  require_mfa: boolean;
}

export async function workspaceSecurity(tx: Tx, workspaceId: string): Promise<WorkspaceSecurity> {
  const [row] = await tx.query<{ require_mfa: boolean }>("select require_mfa from workspaces where id = $1", [
    workspaceId,
  ]);
  return { require_mfa: Boolean(row?.require_mfa) };
}

/** Turns the workspace's MFA requirement on or off; turning it on needs MFA on the caller's own account (no lock-out). */
export async function setWorkspaceSecurity(
  tx: Tx,
  principal: Principal,
  input: WorkspaceSecurity,
  context: RequestContext,
): Promise<WorkspaceSecurity> {
  const before = await workspaceSecurity(tx, principal.workspaceId);
  if (
    input.require_mfa &&
    !before.require_mfa &&
    (principal.actorType !== "user" || !(await mfaEnabled(tx, principal.actorId)))
  ) {
    throw new AppError("conflict", "enable MFA on your own account before requiring it of every member");
  }
  await tx.query("update workspaces set require_mfa = $2 where id = $1", [principal.workspaceId, input.require_mfa]);
  await appendAudit(tx, {
    workspaceId: principal.workspaceId,
    action: "workspace.security_changed",
    actorId: principal.actorId,
    actorType: principal.actorType,
    targetType: "workspace",
    targetId: principal.workspaceId,
    before: { ...before },
    after: { ...input },
    context,
  });
  return input;
}
