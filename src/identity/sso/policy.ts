// "Enforce SSO": a workspace may refuse password sign-in to its members, so that joining, leaving and MFA are
// decided at its identity provider. Designated break-glass owners keep their password (the way back in when
// the IdP is down or misconfigured); turning enforcement on needs one, and an active OIDC or SAML connection.
import type { Static } from "elysia";
import type { Tx } from "../../db/engine.ts";
import { AppError } from "../../errors.ts";
import { appendAudit, type Actor } from "../../audit/service.ts";
import type { SsoPolicy } from "./schemas.ts";

export type SsoPolicyView = Static<typeof SsoPolicy>;

export async function ssoPolicy(tx: Tx, workspaceId: string): Promise<SsoPolicyView> {
  const [workspace] = await tx.query<{ enforce_sso: boolean }>("select enforce_sso from workspaces where id = $1", [
    workspaceId,
  ]);
  const owners = await tx.query<{ user_id: string }>(
    "select user_id from memberships where workspace_id = $1 and sso_break_glass and status = 'active' order by user_id",
    [workspaceId],
  );
  return { enforce_sso: Boolean(workspace?.enforce_sso), break_glass_user_ids: owners.map((o) => o.user_id) };
}

export async function setSsoPolicy(tx: Tx, actor: Actor, input: SsoPolicyView): Promise<SsoPolicyView> {
  const ws = actor.workspaceId;
  const before = await ssoPolicy(tx, ws);
  const wanted = [...new Set(input.break_glass_user_ids)];
  const owners = await tx.query<{ user_id: string }>(
    "select user_id from memberships where workspace_id = $1 and user_id = any($2::text[]) and role = 'owner' and status = 'active'",
    [ws, wanted],
  );
  if (owners.length !== wanted.length)
    throw new AppError("validation_failed", "break_glass_user_ids must name active owners of this workspace");
  if (input.enforce_sso) {
    if (!wanted.length)
      throw new AppError("conflict", "name at least one break-glass owner before enforcing single sign-on");
    const [connection] = await tx.query(
      "select 1 from sso_connections where workspace_id = $1 and status = 'active' and provider in ('oidc', 'saml') limit 1",
      [ws],
    );
    if (!connection) throw new AppError("conflict", "configure an active OIDC or SAML connection before enforcing it");
  }
  await tx.query("update workspaces set enforce_sso = $2 where id = $1", [ws, input.enforce_sso]);
  await tx.query(
    "update memberships set sso_break_glass = (user_id = any($2::text[])) where workspace_id = $1 and sso_break_glass <> (user_id = any($2::text[]))",
    [ws, wanted],
  );
  const after = await ssoPolicy(tx, ws);
  await appendAudit(tx, {
    workspaceId: ws,
    action: "workspace.sso_policy_changed",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "workspace",
    targetId: ws,
    before,
    after,
    context: actor.context,
  });
  return after;
}

/** False when the workspace enforces SSO and the member is not one of its break-glass owners. */
export async function passwordSignInAllowed(tx: Tx, workspaceId: string, userId: string): Promise<boolean> {
  const [row] = await tx.query<{ enforce_sso: boolean; sso_break_glass: boolean; role: string }>(
    `select w.enforce_sso, m.sso_break_glass, m.role from workspaces w
       join memberships m on m.workspace_id = w.id and m.user_id = $2 and m.status = 'active'
      where w.id = $1`,
    [workspaceId, userId],
  );
  return !row?.enforce_sso || (row.sso_break_glass && row.role === "owner");
}
