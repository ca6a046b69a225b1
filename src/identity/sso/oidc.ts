// OpenID Connect sign-in: Authorization Code flow with PKCE (S256), state and nonce, through openid-client.
// Discovery, the token request and the JWKS are fetched only through the SSRF guard (customFetch), under the
// serving app's outbound policy. The ID token is checked for issuer, audience, expiry, nonce and its
// signature against the discovered JWKS (enableNonRepudiationChecks: the key set is fetched per flow, so a
// rotated key is picked up at once). The flow's state lives in the database (state.ts).
import * as client from "openid-client";
import { AppError } from "../../errors.ts";
import type { RequestContext } from "../../audit/service.ts";
import { guardedFetch } from "../../net/fetch.ts";
import { currentOutbound } from "../../net/context.ts";
import { OutboundRefused, type OutboundPolicy } from "../../net/policy.ts";
import { SecretBox } from "../../secrets/envelope.ts";
import type { TokenPair } from "../sessions.ts";
import { clientSecretOf, connectionRow, type ConnectionRow } from "./connections.ts";
import { REFUSED, signInIdentity } from "./sign-in.ts";
import { consumeFlow, saveFlow, workspaceOfConnection } from "./state.ts";
import { ssoEndpoint, type SsoDeps } from "./deps.ts";

/** The IdP's configuration, discovered from the issuer through the guard. */
export async function discover(
  row: ConnectionRow,
  secret: string | undefined,
  outbound: OutboundPolicy,
): Promise<client.Configuration> {
  if (!row.client_id) throw new AppError("validation_failed", "the connection has no client_id");
  const fetcher: client.CustomFetch = (url, options) => guardedFetch(url, options as RequestInit, outbound);
  // Plain http passes the guard only for hosts on the operator's allowlist (an internal IdP, a test IdP).
  const insecure = new URL(row.issuer).protocol === "http:";
  const config = await client.discovery(
    new URL(row.issuer),
    row.client_id,
    undefined,
    secret ? client.ClientSecretBasic(secret) : client.None(),
    { [client.customFetch]: fetcher, execute: insecure ? [client.allowInsecureRequests] : [] },
  );
  config[client.customFetch] = fetcher;
  client.enableNonRepudiationChecks(config);
  return config;
}

async function loaded(deps: SsoDeps, connectionId: string) {
  const ws = await workspaceOfConnection(deps.anonymous, connectionId);
  const { row, secret } = await deps.door(ws, async (tx) => {
    const row = await connectionRow(tx, ws, connectionId);
    return { row, secret: await clientSecretOf(new SecretBox(tx, deps.kek, ws), row) };
  });
  if (row.provider !== "oidc") throw new AppError("not_found", "no such OIDC connection");
  return { ws, row, secret };
}

const callbackUrl = (deps: SsoDeps, connectionId: string) => ssoEndpoint(deps, connectionId, "callback");

/** The guard's refusal behind an error openid-client wrapped (it keeps the original as `cause`). */
export function outboundRefusal(error: unknown): OutboundRefused | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof OutboundRefused) return e;
  return undefined;
}

/** Unreachable or refused IdP: the caller learns that much (the guard's reason), never more. */
function idpFailure(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const refused = outboundRefusal(error);
  if (refused) return new AppError("unauthorized", `the identity provider ${refused.message}`);
  return new AppError("unauthorized", "the identity provider could not be reached or answered unexpectedly");
}

/**
 * Starts a sign-in: stores state, nonce and PKCE verifier, answers the IdP's authorization URL. With `link`,
 * a signed-in member of the connection's workspace links the identity the IdP proves to their own account.
 */
export async function startOidc(
  deps: SsoDeps,
  connectionId: string,
  link?: { workspaceId: string; userId: string },
): Promise<string> {
  const { ws, row, secret } = await loaded(deps, connectionId);
  if (link && link.workspaceId !== ws) throw new AppError("not_found", "no such SSO connection");
  let config: client.Configuration;
  try {
    config = await discover(row, secret, currentOutbound());
  } catch (error) {
    throw idpFailure(error);
  }
  const state = client.randomState();
  const nonce = client.randomNonce();
  const verifier = client.randomPKCECodeVerifier();
  await saveFlow(deps.door, ws, connectionId, state, { nonce, code_verifier: verifier, link_user_id: link?.userId });
  return client
    .buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(deps, connectionId),
      scope: "openid email profile",
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    })
    .toString();
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.filter((v): v is string => typeof v === "string")
    : typeof value === "string"
      ? [value]
      : [];

/** Finishes a sign-in: the state is consumed first (one use), then the code is redeemed and the ID token checked. */
export async function finishOidc(
  deps: SsoDeps,
  connectionId: string,
  query: Record<string, string | undefined>,
  context: RequestContext,
): Promise<TokenPair> {
  const { ws, row, secret } = await loaded(deps, connectionId);
  if (!query.state) throw new AppError("unauthorized", "the sign-in has no state");
  const flow = await consumeFlow(deps.door, ws, connectionId, query.state);
  if (!flow?.nonce || !flow.code_verifier)
    throw new AppError("unauthorized", "the sign-in state is unknown, expired or already used");
  if (query.error) throw new AppError("unauthorized", "the identity provider refused the sign-in");
  let claims: client.IDToken | undefined;
  try {
    const config = await discover(row, secret, currentOutbound());
    const current = new URL(callbackUrl(deps, connectionId));
    for (const [key, value] of Object.entries(query)) if (value !== undefined) current.searchParams.set(key, value);
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: flow.code_verifier,
      expectedState: query.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    claims = tokens.claims();
  } catch (error) {
    throw error instanceof AppError || outboundRefusal(error)
      ? idpFailure(error)
      : new AppError("unauthorized", REFUSED);
  }
  if (!claims) throw new AppError("unauthorized", REFUSED);
  const email = typeof claims.email === "string" && claims.email_verified !== false ? claims.email : undefined;
  return signInIdentity(
    deps,
    ws,
    {
      connection: row,
      subject: claims.sub,
      email: email?.trim().toLowerCase(),
      groups: stringList(claims[row.groups_claim]),
      via: "oidc",
      linkTo: flow.link_user_id ?? undefined,
    },
    context,
  );
}
