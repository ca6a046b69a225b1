// SAML 2.0 service provider (@node-saml/node-saml): SP metadata, SP-initiated sign-in (HTTP-Redirect
// AuthnRequest) and IdP-initiated sign-in, both answered at the ACS (HTTP-POST). Required: a signed assertion
// (only what the signature covers is read: a second, unsigned assertion is refused), the IdP's issuer, our
// audience, our ACS as the subject confirmation's recipient, NotBefore/NotOnOrAfter with a small skew,
// InResponseTo (when present) naming a request we made and have not used, and an assertion id never seen
// before (replay cache). Request ids and used assertion ids are kept in the database (state.ts).
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from "@node-saml/node-saml";
import { AppError } from "../../errors.ts";
import type { RequestContext } from "../../audit/service.ts";
import type { TokenPair } from "../sessions.ts";
import { connectionRow, type ConnectionRow } from "./connections.ts";
import { REFUSED, signInIdentity } from "./sign-in.ts";
import {
  consumeFlow,
  FLOW_MINUTES,
  firstUseOfAssertion,
  flowStartedAt,
  saveFlow,
  workspaceOfConnection,
} from "./state.ts";
import { ssoEndpoint, type SsoDeps } from "./deps.ts";

/** Clock skew accepted on NotBefore / NotOnOrAfter. */
const SKEW_MS = 60_000;

export const spEntityId = (deps: SsoDeps, connectionId: string) => ssoEndpoint(deps, connectionId, "metadata");
const acsUrl = (deps: SsoDeps, connectionId: string) => ssoEndpoint(deps, connectionId, "acs");

/** What one request's flow carries through node-saml: the member who links (start), or who linked (ACS). */
interface FlowLink {
  linkUserId?: string;
  consumedLink?: string;
}

/** node-saml's request-id cache, kept in the connection's workspace (any instance can finish the flow). */
function requestCache(deps: SsoDeps, ws: string, connectionId: string, flow: FlowLink): CacheProvider {
  return {
    saveAsync: async (key, value) => {
      await saveFlow(deps.door, ws, connectionId, `saml:${key}`, {
        nonce: null,
        code_verifier: null,
        link_user_id: flow.linkUserId,
      });
      return { value, createdAt: Date.now() };
    },
    // node-saml reads the value as the time the request was made.
    getAsync: async (key) => (await flowStartedAt(deps.door, ws, connectionId, `saml:${key}`)) ?? null,
    // Called with the response's InResponseTo once node-saml has validated it: the request is used up.
    removeAsync: async (key) => {
      if (key)
        flow.consumedLink = (await consumeFlow(deps.door, ws, connectionId, `saml:${key}`))?.link_user_id ?? undefined;
      return key;
    },
  };
}

function serviceProvider(deps: SsoDeps, ws: string, row: ConnectionRow, flow: FlowLink): SAML {
  return new SAML({
    callbackUrl: acsUrl(deps, row.id),
    entryPoint: row.sso_url ?? undefined,
    issuer: spEntityId(deps, row.id),
    audience: spEntityId(deps, row.id),
    idpIssuer: row.issuer,
    idpCert: row.idp_certificate ?? "",
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: SKEW_MS,
    validateInResponseTo: ValidateInResponseTo.ifPresent,
    requestIdExpirationPeriodMs: FLOW_MINUTES * 60_000,
    cacheProvider: requestCache(deps, ws, row.id, flow),
    identifierFormat: null,
    disableRequestedAuthnContext: true,
  });
}

async function loaded(deps: SsoDeps, connectionId: string, flow: FlowLink = {}) {
  const ws = await workspaceOfConnection(deps.anonymous, connectionId);
  const row = await deps.door(ws, (tx) => connectionRow(tx, ws, connectionId));
  if (row.provider !== "saml") throw new AppError("not_found", "no such SAML connection");
  return { ws, row, flow, sp: serviceProvider(deps, ws, row, flow) };
}

/** The SP's metadata (entity id, ACS, signed assertions wanted) for the IdP administrator. */
export async function spMetadata(deps: SsoDeps, connectionId: string): Promise<string> {
  const { sp } = await loaded(deps, connectionId);
  return sp.generateServiceProviderMetadata(null, null);
}

/**
 * SP-initiated sign-in: the IdP's URL carrying our AuthnRequest (its id remembered, one use). With `link`, a
 * signed-in member of the connection's workspace links the identity the IdP asserts to their own account.
 */
export async function startSaml(
  deps: SsoDeps,
  connectionId: string,
  link?: { workspaceId: string; userId: string },
): Promise<string> {
  const { ws, sp } = await loaded(deps, connectionId, { linkUserId: link?.userId });
  if (link && link.workspaceId !== ws) throw new AppError("not_found", "no such SSO connection");
  return sp.getAuthorizeUrlAsync("", undefined, {});
}

type Node = { $?: Record<string, string>; _?: string } & Record<string, unknown>;
const first = (value: unknown): Node | undefined => (Array.isArray(value) ? (value[0] as Node) : undefined);

/** What node-saml leaves to us, read from the signed assertion only: id, expiry and the recipient. */
function signedFacts(profile: Profile): { id: string; expiresAt: Date; recipients: string[] } {
  const assertion = (profile.getAssertion?.() as { Assertion?: Node } | undefined)?.Assertion;
  const id = assertion?.$?.ID;
  if (!assertion || !id) throw new AppError("unauthorized", REFUSED);
  const notOnOrAfter = first(assertion.Conditions)?.$?.NotOnOrAfter;
  const confirmations = (first(assertion.Subject)?.SubjectConfirmation as Node[] | undefined) ?? [];
  const recipients = confirmations
    .map((c) => first(c.SubjectConfirmationData)?.$?.Recipient)
    .filter((r): r is string => typeof r === "string");
  const expiresAt = notOnOrAfter ? new Date(notOnOrAfter) : new Date(Date.now() + 3600_000);
  return { id, expiresAt: Number.isNaN(expiresAt.getTime()) ? new Date(Date.now() + 3600_000) : expiresAt, recipients };
}

const attributeList = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");

/** The ACS: validates the IdP's response and signs the person in. */
export async function finishSaml(
  deps: SsoDeps,
  connectionId: string,
  samlResponse: string,
  context: RequestContext,
): Promise<TokenPair> {
  const { ws, row, sp, flow } = await loaded(deps, connectionId);
  let profile: Profile | null;
  try {
    ({ profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch {
    throw new AppError("unauthorized", REFUSED);
  }
  // node-saml checks idpIssuer on logout messages only: the signed assertion's issuer is checked here.
  if (!profile?.nameID || profile.issuer !== row.issuer) throw new AppError("unauthorized", REFUSED);
  const facts = signedFacts(profile);
  if (!facts.recipients.includes(acsUrl(deps, connectionId))) throw new AppError("unauthorized", REFUSED);
  if (!(await firstUseOfAssertion(deps.door, ws, connectionId, facts.id, facts.expiresAt)))
    throw new AppError("unauthorized", "this assertion was already used");
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  const email = [profile.email, profile.mail, profile.nameIDFormat?.endsWith(":emailAddress") ? profile.nameID : null]
    .map((v) => (typeof v === "string" ? v.trim().toLowerCase() : ""))
    .find((v) => v.includes("@"));
  return signInIdentity(
    deps,
    ws,
    {
      connection: row,
      subject: profile.nameID,
      email,
      groups: attributeList(attributes[row.groups_claim]),
      via: "saml",
      linkTo: flow.consumedLink,
    },
    context,
  );
}
