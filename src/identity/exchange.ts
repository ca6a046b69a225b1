// Identity-provider token exchange: a JWT from the workspace's IdP (Clerk, Auth0, Okta, Keycloak ...),
// verified against its JWKS (RS256/ES256; jose's remote key set caches and refreshes keys), issuer,
// audience and expiry, is exchanged for Causeloop tokens. The subject is mapped by verified email to a
// member; unknown people are refused unless the connection provisions them just in time.
import { jwtVerify, type JWTVerifyGetKey } from "jose";
import { remoteKeySet } from "../net/jwks.ts";
import { currentOutbound } from "../net/context.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type RequestContext } from "../audit/service.ts";
import { newId } from "../ids.ts";
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

export async function exchange(deps: SessionDeps, globalIdp: GlobalIdp | undefined, input: { token: string; workspace_id: string }, context: RequestContext): Promise<TokenPair> {
  const ws = input.workspace_id;
  const connections = await deps.door(ws, (tx) =>
    tx.query<Connection>("select id, issuer, audience, jwks_url, jit_provisioning, default_role from sso_connections where workspace_id = $1 and status = 'active' and provider in ('jwt', 'oidc') and jwks_url is not null", [ws]),
  );
  if (globalIdp) connections.push({ id: null, issuer: globalIdp.issuer, audience: globalIdp.audience ?? null, jwks_url: globalIdp.jwksUrl, jit_provisioning: false, default_role: "viewer" });
  for (const connection of connections) {
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(input.token, keySet(connection.jwks_url), { issuer: connection.issuer, audience: connection.audience ?? undefined, algorithms: ["RS256", "ES256"] }));
    } catch {
      continue;
    }
    const email = typeof claims.email === "string" ? claims.email.trim().toLowerCase() : "";
    if (!email || claims.email_verified !== true) throw new AppError("unauthorized", "the identity token carries no verified email");
    return deps.door(ws, async (tx) => {
      const [member] = await tx.query<{ user_id: string; status: string }>("select m.user_id, m.status from memberships m join users u on u.id = m.user_id where m.workspace_id = $1 and u.email = $2", [ws, email]);
      let userId = member?.status === "active" ? member.user_id : undefined;
      if (!userId) {
        if (!connection.jit_provisioning || member) throw new AppError("unauthorized", REFUSED);
        const [user] = await tx.query<{ id: string }>("select auth_ensure_user($1) as id", [email]);
        userId = user?.id as string;
        const membershipId = newId("mem");
        await tx.query("insert into memberships (workspace_id, id, user_id, role, status) values ($1, $2, $3, $4, 'active')", [ws, membershipId, userId, connection.default_role]);
        await appendAudit(tx, { workspaceId: ws, action: "member.provisioned", actorId: userId, actorType: "user", targetType: "membership", targetId: membershipId, after: { role: connection.default_role, sso_connection_id: connection.id, issuer: connection.issuer }, context });
      }
      const pair = await startSession(tx, deps, userId, ws, context, false);
      await appendAudit(tx, { workspaceId: ws, action: "auth.login", actorId: userId, actorType: "user", targetType: "user", targetId: userId, after: { via: "idp", issuer: connection.issuer, subject: String(claims.sub ?? "") }, context });
      return pair;
    });
  }
  throw new AppError("unauthorized", REFUSED);
}
