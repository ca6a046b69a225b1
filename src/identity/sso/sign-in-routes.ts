// /v1/auth/sso/{id}/...: the sign-in flows, public: they authenticate by what the IdP sends back, in the
// connection's own workspace only.
import { Elysia, t } from "elysia";
import { responses } from "../../http/contract.ts";
import type { RequestContext } from "../../audit/service.ts";
import { Session } from "../schemas.ts";
import { connectionRow } from "./connections.ts";
import { finishOidc, startOidc } from "./oidc.ts";
import { finishSaml, spMetadata, startSaml } from "./saml.ts";
import type { SsoDeps } from "./deps.ts";
import { workspaceOfConnection } from "./state.ts";
import { ConnectionId } from "./routes.ts";

const Redirect = {
  description: "Redirect to the identity provider",
  headers: { Location: { description: "The IdP's sign-in URL", schema: { type: "string" } } },
};

export function ssoSignInRoutes(deps: SsoDeps, contextOf: (request: Request) => RequestContext) {
  return new Elysia({ name: "sso-sign-in", prefix: "/v1/auth/sso" })
    .get(
      "/:id/start",
      async ({ params, redirect }) => {
        const ws = await workspaceOfConnection(deps.anonymous, params.id);
        const provider = await deps.door(ws, async (tx) => (await connectionRow(tx, ws, params.id)).provider);
        return redirect(provider === "saml" ? await startSaml(deps, params.id) : await startOidc(deps, params.id), 302);
      },
      {
        params: ConnectionId,
        detail: {
          summary: "Start single sign-on: redirects to the workspace's identity provider (OIDC or SAML)",
          tags: ["auth"],
          responses: responses({ 302: Redirect }, [401]),
          security: [],
        },
      },
    )
    .get("/:id/callback", ({ params, query, request }) => finishOidc(deps, params.id, query, contextOf(request)), {
      params: ConnectionId,
      query: t.Object(
        {
          code: t.Optional(t.String({ maxLength: 2000 })),
          state: t.Optional(t.String({ maxLength: 500 })),
          iss: t.Optional(t.String({ maxLength: 500 })),
          session_state: t.Optional(t.String({ maxLength: 500 })),
          error: t.Optional(t.String({ maxLength: 200 })),
          error_description: t.Optional(t.String({ maxLength: 2000 })),
        },
        { additionalProperties: false },
      ),
      detail: {
        summary: "OIDC redirect URI: redeems the code (PKCE, state, nonce) and answers a session like password login",
        tags: ["auth"],
        responses: responses({ 200: Session }, [401]),
        security: [],
      },
    })
    .get(
      "/:id/metadata",
      async ({ params, set }) => {
        set.headers["content-type"] = "application/samlmetadata+xml";
        return spMetadata(deps, params.id);
      },
      {
        params: ConnectionId,
        detail: {
          summary: "SAML service provider metadata (entity id, ACS URL) for the IdP administrator",
          tags: ["auth"],
          responses: responses({ 200: { description: "SAML metadata", contentType: "application/samlmetadata+xml" } }),
          security: [],
        },
      },
    )
    .post(
      "/:id/acs",
      ({ params, body, request }) => finishSaml(deps, params.id, body.SAMLResponse, contextOf(request)),
      {
        params: ConnectionId,
        body: t.Object(
          {
            SAMLResponse: t.String({ minLength: 1, maxLength: 500_000 }),
            RelayState: t.Optional(t.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary:
            "SAML assertion consumer service (HTTP-POST binding, SP- or IdP-initiated): answers a session like password login",
          tags: ["auth"],
          responses: responses({ 200: Session }, [401]),
          security: [],
        },
      },
    );
}
