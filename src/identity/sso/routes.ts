// /v1/sso-connections and /v1/workspace/sso-policy: administration, behind the door (the public sign-in
// flows are in sign-in-routes.ts).
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../../http/contract.ts";
import { requireInteractive, type authPlugin, type Caller } from "../auth.ts";
import { SecretBox } from "../../secrets/envelope.ts";
import type { KekProvider } from "../../secrets/keyring.ts";
import type { OutboundPolicy } from "../../net/policy.ts";
import {
  clientSecretOf,
  connectionRow,
  createSsoConnection,
  deleteSsoConnection,
  getSsoConnection,
  listSsoConnections,
  updateSsoConnection,
} from "./connections.ts";
import { auditTest, testConnection } from "./check.ts";
import {
  MappedRole,
  RoleRule,
  SsoConnection,
  SsoConnectionPage,
  SsoLinkStart,
  SsoPolicy,
  SsoTestResult,
} from "./schemas.ts";
import { setSsoPolicy, ssoPolicy } from "./policy.ts";
import { startOidc } from "./oidc.ts";
import { startSaml } from "./saml.ts";
import type { SsoDeps } from "./deps.ts";
import { fetchIdpMetadata } from "./idp-metadata.ts";
import { AppError } from "../../errors.ts";

export const ConnectionId = t.Object({ id: t.String({ pattern: "^sso_[0-9a-z]{26}$" }) });
const Url = t.String({ pattern: "^https?://", maxLength: 2000 });
const Pem = t.String({ minLength: 1, maxLength: 20_000 });

const settings = {
  display_name: t.String({ minLength: 1, maxLength: 200 }),
  issuer: t.String({ minLength: 1, maxLength: 500, description: "OIDC: the issuer URL; SAML: the IdP's entity id" }),
  audience: t.String({ maxLength: 500 }),
  jwks_url: Url,
  client_id: t.String({ maxLength: 500 }),
  client_secret: t.String({ minLength: 1, maxLength: 2000 }),
  metadata_url: Url,
  sso_url: Url,
  idp_certificate: Pem,
  jit_provisioning: t.Boolean(),
  default_role: MappedRole,
  groups_claim: t.String({ minLength: 1, maxLength: 200 }),
  role_mapping: t.Array(RoleRule, { maxItems: 100 }),
};
const Settings = t.Object(settings);

/** A new connection, as POST /v1/sso-connections and `causeloop sso create` take it. */
export const SsoCreateBody = t.Composite(
  [
    t.Object({
      provider: t.Union([t.Literal("oidc"), t.Literal("saml"), t.Literal("jwt")]),
      display_name: settings.display_name,
      issuer: settings.issuer,
    }),
    t.Partial(t.Omit(Settings, ["display_name", "issuer"])),
  ],
  { additionalProperties: false },
);

/** Changes to a connection, as PATCH /v1/sso-connections/{id} and `causeloop sso update` take them. */
export const SsoUpdateBody = t.Composite(
  [t.Partial(Settings), t.Object({ status: t.Optional(t.Union([t.Literal("active"), t.Literal("disabled")])) })],
  { additionalProperties: false, minProperties: 1 },
);

/** SAML with `metadata_url`: the IdP's entity id, sign-in URL and certificate as its metadata says (fetched first). */
export async function withIdpMetadata<T extends { metadata_url?: string; issuer?: string }>(
  body: T,
  outbound: OutboundPolicy,
): Promise<T> {
  if (!body.metadata_url) return body;
  const metadata = await fetchIdpMetadata(body.metadata_url, outbound);
  if (body.issuer && body.issuer !== metadata.entityId)
    throw new AppError("validation_failed", "issuer differs from the entityID of the IdP's metadata");
  return { ...body, issuer: metadata.entityId, sso_url: metadata.ssoUrl, idp_certificate: metadata.certificate };
}

export function ssoConnectionRoutes(
  auth: ReturnType<typeof authPlugin>,
  kek: KekProvider,
  outbound: OutboundPolicy,
  sso?: SsoDeps,
) {
  const sealed = <T>(
    caller: Caller,
    fn: (tx: Parameters<Parameters<Caller["tenant"]>[0]>[0], box: SecretBox) => Promise<T>,
  ) => caller.tenant((tx) => fn(tx, new SecretBox(tx, kek, caller.principal.workspaceId)));
  const tags = ["sso"];
  return new Elysia({ name: "sso-connections" })
    .use(auth)
    .post(
      "/v1/sso-connections",
      async ({ caller, body, set }) => {
        const input = body.provider === "saml" ? await withIdpMetadata(body, outbound) : body;
        set.status = 201;
        return sealed(caller, (tx, box) => createSsoConnection(tx, box, caller.actor, input, outbound));
      },
      {
        scope: "settings:write",
        body: SsoCreateBody,
        detail: {
          summary:
            "Configure an identity provider (OIDC, SAML or an ID-token issuer); the client secret is stored encrypted and never returned",
          tags,
          responses: responses({ 201: SsoConnection }, [409]),
        },
      },
    )
    .get(
      "/v1/sso-connections",
      ({ caller, query }) =>
        sealed(caller, (tx, box) => listSsoConnections(tx, box, caller.principal.workspaceId, query)),
      {
        scope: "settings:read",
        query: t.Object(PageQuery),
        detail: { summary: "List SSO connections", tags, responses: responses({ 200: SsoConnectionPage }) },
      },
    )
    .get(
      "/v1/sso-connections/:id",
      ({ caller, params }) =>
        sealed(caller, (tx, box) => getSsoConnection(tx, box, caller.principal.workspaceId, params.id)),
      {
        scope: "settings:read",
        params: ConnectionId,
        detail: { summary: "Get an SSO connection", tags, responses: responses({ 200: SsoConnection }) },
      },
    )
    .patch(
      "/v1/sso-connections/:id",
      async ({ caller, params, body }) => {
        // The connection must exist (in this workspace) before anything is fetched for it.
        const current = await caller.tenant((tx) => connectionRow(tx, caller.principal.workspaceId, params.id));
        const input = current.provider === "saml" ? await withIdpMetadata(body, outbound) : body;
        return sealed(caller, (tx, box) => updateSsoConnection(tx, box, caller.actor, params.id, input, outbound));
      },
      {
        scope: "settings:write",
        params: ConnectionId,
        body: SsoUpdateBody,
        detail: {
          summary: "Update an SSO connection (a new client secret replaces the stored one; disabled stops sign-ins)",
          tags,
          responses: responses({ 200: SsoConnection }),
        },
      },
    )
    .delete(
      "/v1/sso-connections/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => deleteSsoConnection(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "settings:write",
        params: ConnectionId,
        detail: {
          summary: "Delete an SSO connection and unlink the identities signed in through it",
          tags,
          responses: responses({ 204: null }),
        },
      },
    )
    .post(
      "/v1/sso-connections/:id/test",
      async ({ caller, params }) => {
        const { row, secret } = await sealed(caller, async (tx, box) => {
          const row = await connectionRow(tx, caller.principal.workspaceId, params.id);
          return { row, secret: await clientSecretOf(box, row) };
        });
        const result = await testConnection(row, secret);
        await caller.tenant((tx) => auditTest(tx, caller.actor, params.id, result));
        return result;
      },
      {
        scope: "settings:write",
        params: ConnectionId,
        detail: {
          summary: "Test an SSO connection: OIDC discovery and key set, SAML certificate, ID-token key set",
          tags,
          responses: responses({ 200: SsoTestResult }),
        },
      },
    )
    .post(
      "/v1/sso-connections/:id/link",
      async ({ caller, params }) => {
        // Like POST /v1/me/identities: the account proves itself with a recent password sign-in, the IdP the identity.
        requireInteractive(caller.principal, { recent: true, passwordLogin: true });
        if (!sso) throw new AppError("not_found", "single sign-on is not configured on this server");
        const row = await caller.tenant((tx) => connectionRow(tx, caller.principal.workspaceId, params.id));
        if (row.provider === "jwt" || row.status !== "active")
          throw new AppError("conflict", "identities are linked through an active OIDC or SAML connection");
        const link = { workspaceId: caller.principal.workspaceId, userId: caller.principal.actorId };
        const start = row.provider === "saml" ? startSaml : startOidc;
        return { authorization_url: await start(sso, params.id, link) };
      },
      {
        scope: "authenticated",
        params: ConnectionId,
        detail: {
          summary:
            "Start linking your account to your identity at this OIDC or SAML connection: open authorization_url; signing in there links it and answers a session",
          tags,
          responses: responses({ 200: SsoLinkStart }, [409]),
        },
      },
    )
    .get(
      "/v1/workspace/sso-policy",
      ({ caller }) => caller.tenant((tx) => ssoPolicy(tx, caller.principal.workspaceId)),
      {
        scope: "settings:read",
        detail: {
          summary: "Whether the workspace enforces single sign-on",
          tags,
          responses: responses({ 200: SsoPolicy }),
        },
      },
    )
    .put(
      "/v1/workspace/sso-policy",
      ({ caller, body }) => caller.tenant((tx) => setSsoPolicy(tx, caller.actor, body)),
      {
        scope: "settings:write",
        body: t.Object(
          {
            enforce_sso: t.Boolean(),
            break_glass_user_ids: t.Array(t.String({ pattern: "^usr_[0-9a-z]{26}$" }), { maxItems: 20 }),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary:
            "Enforce single sign-on: password sign-in is refused to members but the named break-glass owners (needs one, and an active OIDC or SAML connection)",
          tags,
          responses: responses({ 200: SsoPolicy }, [409]),
        },
      },
    );
}
