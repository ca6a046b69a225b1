// Identity-provider token exchange: a JWT from the workspace's IdP (Clerk, Auth0, Okta, Keycloak ...),
// verified against its JWKS (RS256/ES256; jose's remote key set caches and refreshes keys), issuer,
// audience and expiry, is exchanged for Causeloop tokens. Identities are bound by (connection, subject): see
// exchange() for who a workspace's IdP may sign in.
import { jwtVerify, type JWTVerifyGetKey } from "jose";
import { remoteKeySet } from "../net/jwks.ts";
import { currentOutbound } from "../net/context.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import { newId } from "../ids.ts";
import type { Tx } from "../db/engine.ts";
import type { Principal } from "./auth.ts";
import { startSession, type SessionDeps, type TokenPair } from "./sessions.ts";

export interface GlobalIdp {
  jwksUrl: string;
  issuer: string;
  audience?: string;
}

interface Connection {
  id: string | null;
  issuer: string;
  audience: string | null;
  jwks_url: string;
  jit_provisioning: boolean;
  default_role: string;
}

// Fetched only through the SSRF guard, under the serving app's outbound policy, cached per URL (src/net).
function keySet(url: string): JWTVerifyGetKey {
  return remoteKeySet(url, currentOutbound());
}

const REFUSED = "the identity token is not valid for this workspace";
/** The connection id recorded for identities of the operator's global identity provider. */
const GLOBAL_CONNECTION = "global";

interface Verified {
  connection: Connection;
  subject: string;
  email: string;
}

/** Verifies an IdP token against the workspace's connections (and the operator's global IdP). */
async function verifyIdentityToken(
  deps: SessionDeps,
  globalIdp: GlobalIdp | undefined,
  ws: string,
  token: string,
): Promise<Verified> {
  const connections = await deps.door(ws, (tx) =>
    tx.query<Connection>(
      "select id, issuer, audience, jwks_url, jit_provisioning, default_role from sso_connections where workspace_id = $1 and status = 'active' and provider in ('jwt', 'oidc') and jwks_url is not null",
      [ws],
    ),
  );
  if (globalIdp)
    connections.push({
      id: null,
      issuer: globalIdp.issuer,
      audience: globalIdp.audience ?? null,
      jwks_url: globalIdp.jwksUrl,
      jit_provisioning: false,
      default_role: "viewer",
    });
  for (const connection of connections) {
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, keySet(connection.jwks_url), {
        issuer: connection.issuer,
        audience: connection.audience ?? undefined,
        algorithms: ["RS256", "ES256"],
      }));
    } catch {
      continue;
    }
    const subject = typeof claims.sub === "string" ? claims.sub : "";
    if (!subject || subject.length > 255) throw new AppError("unauthorized", REFUSED);
    const email = typeof claims.email === "string" ? claims.email.trim().toLowerCase() : "";
    if (!email || claims.email_verified !== true)
      throw new AppError("unauthorized", "the identity token carries no verified email");
    return { connection, subject, email };
  }
  throw new AppError("unauthorized", REFUSED);
}

/**
 * Exchanges an IdP token for a session in that workspace. The identity is found by (connection, subject), never
 * by the email claim alone: a workspace's IdP signs in only the accounts it provisioned just in time (accounts
 * bound to it, with no password) and those whose owner linked the identity while signed in. It never
 * authenticates an account created elsewhere. The operator's global IdP, trusted by the operator, may also
 * link an active member of the workspace by verified email.
 */
export async function exchange(
  deps: SessionDeps,
  globalIdp: GlobalIdp | undefined,
  input: { token: string; workspace_id: string },
  context: RequestContext,
): Promise<TokenPair> {
  const ws = input.workspace_id;
  const { connection, subject, email } = await verifyIdentityToken(deps, globalIdp, ws, input.token);
  const connectionId = connection.id ?? GLOBAL_CONNECTION;
  return deps.door(ws, async (tx) => {
    const [linked] = await tx.query<{ id: string; user_id: string; status: string | null }>(
      `select i.id, i.user_id, m.status from sso_identities i left join memberships m on m.workspace_id = i.workspace_id and m.user_id = i.user_id
        where i.workspace_id = $1 and i.connection_id = $2 and i.subject = $3`,
      [ws, connectionId, subject],
    );
    if (linked && linked.status !== "active") throw new AppError("unauthorized", REFUSED);
    let userId = linked?.user_id;
    if (!userId) {
      userId =
        connection.id === null
          ? await memberByEmail(tx, ws, email)
          : await provision(tx, ws, connection, email, context);
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
      after: { via: "idp", issuer: connection.issuer, subject },
      context,
    });
    return pair;
  });
}

async function memberByEmail(tx: Tx, ws: string, email: string): Promise<string> {
  const [member] = await tx.query<{ user_id: string }>(
    "select m.user_id from memberships m join users u on u.id = m.user_id where m.workspace_id = $1 and u.email = $2 and m.status = 'active'",
    [ws, email],
  );
  if (!member) throw new AppError("unauthorized", REFUSED);
  return member.user_id;
}

/** Just-in-time provisioning: a NEW account bound to this connection; an email that already has an account is refused. */
async function provision(
  tx: Tx,
  ws: string,
  connection: Connection,
  email: string,
  context: RequestContext,
): Promise<string> {
  if (!connection.jit_provisioning || !connection.id) throw new AppError("unauthorized", REFUSED);
  const [created] = await tx.query<{ id: string | null }>("select auth_provision_idp_user($1, $2) as id", [
    email,
    connection.id,
  ]);
  if (!created?.id) throw new AppError("unauthorized", REFUSED);
  const membershipId = newId("mem");
  await tx.query(
    "insert into memberships (workspace_id, id, user_id, role, status) values ($1, $2, $3, $4, 'active')",
    [ws, membershipId, created.id, connection.default_role],
  );
  await appendAudit(tx, {
    workspaceId: ws,
    action: "member.provisioned",
    actorId: created.id,
    actorType: "user",
    targetType: "membership",
    targetId: membershipId,
    after: { role: connection.default_role, sso_connection_id: connection.id, issuer: connection.issuer },
    context,
  });
  return created.id;
}

/**
 * Links an IdP identity to the signed-in account (the legitimate way for an existing member to start using the
 * workspace's single sign-on): the caller proves the account with a recent password session, the token proves
 * the identity.
 */
export async function linkIdentity(
  deps: SessionDeps,
  globalIdp: GlobalIdp | undefined,
  principal: Principal,
  token: string,
  context: RequestContext,
): Promise<{ id: string; connection_id: string; issuer: string; subject: string }> {
  const ws = principal.workspaceId;
  const { connection, subject } = await verifyIdentityToken(deps, globalIdp, ws, token);
  const connectionId = connection.id ?? GLOBAL_CONNECTION;
  return deps.door(ws, async (tx) => {
    const [existing] = await tx.query<{ user_id: string }>(
      "select user_id from sso_identities where workspace_id = $1 and connection_id = $2 and subject = $3",
      [ws, connectionId, subject],
    );
    if (existing) throw new AppError("conflict", "this identity is already linked to an account in this workspace");
    const id = newId("sid");
    await tx.query(
      "insert into sso_identities (workspace_id, id, connection_id, issuer, subject, user_id) values ($1, $2, $3, $4, $5, $6)",
      [ws, id, connectionId, connection.issuer, subject, principal.actorId],
    );
    await appendAudit(tx, {
      workspaceId: ws,
      action: "user.identity_linked",
      actorId: principal.actorId,
      actorType: "user",
      targetType: "sso_identity",
      targetId: id,
      after: { connection_id: connectionId, issuer: connection.issuer, subject },
      context,
    });
    return { id, connection_id: connectionId, issuer: connection.issuer, subject };
  });
}
