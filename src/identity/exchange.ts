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
import type { Principal } from "./auth.ts";
import type { SessionDeps, TokenPair } from "./sessions.ts";
import { GLOBAL_CONNECTION, signInIdentity } from "./sso/sign-in.ts";

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
 * Exchanges an IdP token for a session in that workspace (src/identity/sso/sign-in.ts decides who a
 * workspace's IdP may sign in). The operator's global IdP, trusted by the operator, may also link an active
 * member of the workspace by verified email.
 */
export async function exchange(
  deps: SessionDeps,
  globalIdp: GlobalIdp | undefined,
  input: { token: string; workspace_id: string },
  context: RequestContext,
): Promise<TokenPair> {
  const ws = input.workspace_id;
  const { connection, subject, email } = await verifyIdentityToken(deps, globalIdp, ws, input.token);
  return signInIdentity(deps, ws, { connection, subject, email, groups: [], via: "idp" }, context);
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
