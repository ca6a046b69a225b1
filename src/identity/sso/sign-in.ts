// What every identity-provider sign-in ends with (the ID-token exchange, OIDC, SAML): the identity is found by
// (connection, subject), never by an email claim alone; an unknown identity is provisioned just in time only
// when the connection allows it, as a NEW account bound to that connection; then a session exactly like a
// password login's. Everything happens in the connection's own workspace: trust never crosses tenants.
import type { Tx } from "../../db/engine.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { appendAudit, type RequestContext } from "../../audit/service.ts";
import { startSession, type SessionDeps, type TokenPair } from "../sessions.ts";
import type { RoleRule } from "./connections.ts";

export const REFUSED = "the identity is not valid for this workspace";
/** The connection id recorded for identities of the operator's global identity provider. */
export const GLOBAL_CONNECTION = "global";

export interface IdentityConnection {
  /** null: the operator's global IdP (trusted by the operator, may link an active member by verified email). */
  id: string | null;
  issuer: string;
  jit_provisioning: boolean;
  default_role: string;
  role_mapping?: RoleRule[];
}

export interface ProvenIdentity {
  connection: IdentityConnection;
  subject: string;
  /** Needed only to provision an account (or, for the global IdP, to find the member). */
  email: string | undefined;
  groups: string[];
  via: "idp" | "oidc" | "saml";
  /** A signed-in member started this flow to link the identity to their own account. */
  linkTo?: string;
}

const RANK: Record<string, number> = { viewer: 1, analyst: 2, admin: 3 };

/** The highest role the person's groups map to, or undefined when none matches. */
export function mappedRole(rules: RoleRule[] | undefined, groups: string[]): string | undefined {
  let best: string | undefined;
  for (const rule of rules ?? [])
    if (groups.includes(rule.group) && (RANK[rule.role] ?? 0) > (best ? (RANK[best] ?? 0) : 0)) best = rule.role;
  return best;
}

/** Signs the proven identity into the connection's workspace (see the file's comment). */
export async function signInIdentity(
  deps: SessionDeps,
  ws: string,
  identity: ProvenIdentity,
  context: RequestContext,
): Promise<TokenPair> {
  const { connection, subject } = identity;
  if (!subject || subject.length > 255) throw new AppError("unauthorized", REFUSED);
  const connectionId = connection.id ?? GLOBAL_CONNECTION;
  return deps.door(ws, async (tx) => {
    const [linked] = await tx.query<{ user_id: string; status: string | null }>(
      `select i.user_id, m.status from sso_identities i left join memberships m on m.workspace_id = i.workspace_id and m.user_id = i.user_id
        where i.workspace_id = $1 and i.connection_id = $2 and i.subject = $3`,
      [ws, connectionId, subject],
    );
    if (linked && linked.status !== "active") throw new AppError("unauthorized", REFUSED);
    if (identity.linkTo && linked && linked.user_id !== identity.linkTo)
      throw new AppError("conflict", "this identity is already linked to another account in this workspace");
    let userId = linked?.user_id;
    if (userId) await remapRole(tx, ws, userId, identity, context);
    if (!userId) {
      userId = identity.linkTo
        ? await linkedMember(tx, ws, identity, context)
        : connection.id === null
          ? await memberByEmail(tx, ws, identity.email)
          : ((await provisionedByScim(tx, ws, identity, context)) ?? (await provision(tx, ws, identity, context)));
      await tx.query(
        "insert into sso_identities (workspace_id, id, connection_id, issuer, subject, user_id) values ($1, $2, $3, $4, $5, $6)",
        [ws, newId("sid"), connectionId, connection.issuer, subject, userId],
      );
    }
    await tx.query(
      "update sso_identities set last_login_at = now() where workspace_id = $1 and connection_id = $2 and subject = $3",
      [ws, connectionId, subject],
    );
    const pair = await startSession(tx, deps, userId, ws, context, { method: "idp", mfaVerified: false });
    await appendAudit(tx, {
      workspaceId: ws,
      action: "auth.login",
      actorId: userId,
      actorType: "user",
      targetType: "user",
      targetId: userId,
      after: { via: identity.via, connection_id: connectionId, issuer: connection.issuer, subject },
      context,
    });
    return pair;
  });
}

/**
 * An account the connection provisioned follows the IdP's groups at every sign-in (the mapped role, else the
 * default); accounts linked by their owner keep the role the workspace gave them.
 */
async function remapRole(tx: Tx, ws: string, userId: string, identity: ProvenIdentity, context: RequestContext) {
  const { connection } = identity;
  if (!connection.id || !connection.role_mapping?.length) return;
  const role = mappedRole(connection.role_mapping, identity.groups) ?? connection.default_role;
  const [changed] = await tx.query<{ id: string; before: string }>(
    `update memberships m set role = $4 from users u, memberships old
      where m.workspace_id = $1 and m.user_id = $2 and u.id = m.user_id and u.idp_connection_id = $3
        and old.workspace_id = m.workspace_id and old.id = m.id and m.role <> $4 and m.role <> 'owner'
      returning m.id, old.role as before`,
    [ws, userId, connection.id, role],
  );
  if (!changed) return;
  await appendAudit(tx, {
    workspaceId: ws,
    action: "member.role_changed",
    actorId: userId,
    actorType: "user",
    targetType: "membership",
    targetId: changed.id,
    before: { role: changed.before },
    after: { role, sso_connection_id: connection.id, via: "group_mapping" },
    context,
  });
}

/** The member who started a link flow (still an active member), the link audited. */
async function linkedMember(tx: Tx, ws: string, identity: ProvenIdentity, context: RequestContext): Promise<string> {
  const userId = identity.linkTo as string;
  const [member] = await tx.query(
    "select 1 from memberships where workspace_id = $1 and user_id = $2 and status = 'active'",
    [ws, userId],
  );
  if (!member) throw new AppError("unauthorized", REFUSED);
  await appendAudit(tx, {
    workspaceId: ws,
    action: "user.identity_linked",
    actorId: userId,
    actorType: "user",
    targetType: "user",
    targetId: userId,
    after: {
      connection_id: identity.connection.id,
      issuer: identity.connection.issuer,
      subject: identity.subject,
      via: identity.via,
    },
    context,
  });
  return userId;
}

async function memberByEmail(tx: Tx, ws: string, email: string | undefined): Promise<string> {
  if (!email) throw new AppError("unauthorized", REFUSED);
  const [member] = await tx.query<{ user_id: string }>(
    "select m.user_id from memberships m join users u on u.id = m.user_id where m.workspace_id = $1 and u.email = $2 and m.status = 'active'",
    [ws, email],
  );
  if (!member) throw new AppError("unauthorized", REFUSED);
  return member.user_id;
}

/**
 * An account this workspace's own SCIM provisioning created (bound to its identity provider, no password, an
 * active member), signed in by the same workspace's connection for the first time: matched by the SCIM
 * userName (the email the IdP asserts) or externalId (the subject). Only accounts this workspace's SCIM made:
 * never an account that exists outside it, so no connection adopts anyone else's account.
 */
async function provisionedByScim(
  tx: Tx,
  ws: string,
  identity: ProvenIdentity,
  context: RequestContext,
): Promise<string | undefined> {
  if (!identity.connection.id) return undefined;
  const [row] = await tx.query<{ user_id: string }>(
    `select s.user_id from scim_users s
       join users u on u.id = s.user_id
       join memberships m on m.workspace_id = s.workspace_id and m.user_id = s.user_id and m.status = 'active'
      where s.workspace_id = $1 and s.active and u.idp_workspace_id = $1 and u.idp_connection_id = 'scim'
        and (lower(s.user_name) = lower($2) or s.external_id = $3)
      order by (lower(s.user_name) = lower($2)) desc limit 1`,
    [ws, identity.email ?? "", identity.subject],
  );
  if (!row) return undefined;
  await appendAudit(tx, {
    workspaceId: ws,
    action: "user.identity_linked",
    actorId: row.user_id,
    actorType: "user",
    targetType: "user",
    targetId: row.user_id,
    after: {
      connection_id: identity.connection.id,
      issuer: identity.connection.issuer,
      subject: identity.subject,
      via: "scim",
    },
    context,
  });
  return row.user_id;
}

/** Just-in-time provisioning: a NEW account bound to this connection; an email that already has an account is refused. */
async function provision(tx: Tx, ws: string, identity: ProvenIdentity, context: RequestContext): Promise<string> {
  const { connection, email } = identity;
  if (!connection.jit_provisioning || !connection.id || !email) throw new AppError("unauthorized", REFUSED);
  const [created] = await tx.query<{ id: string | null }>("select auth_provision_idp_user($1, $2) as id", [
    email,
    connection.id,
  ]);
  if (!created?.id) throw new AppError("unauthorized", REFUSED);
  const role = mappedRole(connection.role_mapping, identity.groups) ?? connection.default_role;
  const membershipId = newId("mem");
  await tx.query(
    "insert into memberships (workspace_id, id, user_id, role, status) values ($1, $2, $3, $4, 'active')",
    [ws, membershipId, created.id, role],
  );
  await appendAudit(tx, {
    workspaceId: ws,
    action: "member.provisioned",
    actorId: created.id,
    actorType: "user",
    targetType: "membership",
    targetId: membershipId,
    after: { role, sso_connection_id: connection.id, issuer: connection.issuer },
    context,
  });
  return created.id;
}
