// /v1/connectors, /v1/webhooks, /v1/inbound-webhooks: secrets go in once and never come back out
// (/v1/sso-connections lives in src/identity/sso/).
import { PageQuery, responses } from "../http/contract.ts";
import {
  Connector,
  ConnectorCatalogue,
  ConnectorPage,
  CreatedConnector,
  CreatedInboundWebhook,
  CreatedWebhook,
  Webhook,
  WebhookPage,
} from "./schemas.ts";
import { Elysia, t } from "elysia";
import type { authPlugin, Caller } from "../identity/auth.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import type { OutboundPolicy } from "../net/policy.ts";
import { assertUserUrl } from "../net/user-url.ts";
import {
  createConnector,
  createInboundWebhook,
  createWebhook,
  deleteConnector,
  deleteWebhook,
  getConnector,
  getWebhook,
  listConnectors,
  listWebhooks,
  updateConnector,
} from "./service.ts";
import { listCatalogue } from "./catalogue.ts";
import { SOURCES } from "../ingestion/adapters/index.ts";

const id = (prefix: string) => t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$` }) });
const Config = t.Record(t.String({ maxLength: 100 }), t.Unknown(), { maxProperties: 50 });
const Url = t.String({ pattern: "^https?://", maxLength: 2000 });
/**
 * The API's public origin, for receiving URLs: the origin the request reached (Host, and the scheme the server
 * saw). No setting names it today; behind a TLS-terminating proxy that rewrites Host this is the proxy's view.
 */
const originOf = (request: Request) => new URL(request.url).origin;

export function integrationRoutes(auth: ReturnType<typeof authPlugin>, kek: KekProvider, outbound: OutboundPolicy) {
  const sealed = <T>(
    caller: Caller,
    fn: (tx: Parameters<Parameters<Caller["tenant"]>[0]>[0], box: SecretBox) => Promise<T>,
  ) => caller.tenant((tx) => fn(tx, new SecretBox(tx, kek, caller.principal.workspaceId)));

  return new Elysia({ name: "integrations" })
    .use(auth)
    .post(
      "/v1/connectors",
      ({ caller, body, set, request }) => {
        set.status = 201;
        return sealed(caller, (tx, box) => createConnector(tx, box, caller.actor, body, originOf(request)));
      },
      {
        scope: "connectors:write",
        body: t.Object(
          {
            type: t.String({ minLength: 1, maxLength: 64 }),
            display_name: t.String({ minLength: 1, maxLength: 200 }),
            config: Config,
          },
          { additionalProperties: false },
        ),
        detail: {
          summary:
            "Connect a product (the config is stored encrypted, never returned); a product that sends events gets its receiving URL and signing secret, shown once",
          tags: ["connectors"],
          responses: responses({ 201: CreatedConnector }, [409]),
        },
      },
    )
    .get("/v1/connectors/catalogue", ({ caller }) => caller.tenant((tx) => listCatalogue(tx)), {
      scope: "connectors:read",
      detail: {
        summary: "What can be connected, and which products send their events here (inbound)",
        tags: ["connectors"],
        responses: responses({ 200: ConnectorCatalogue }),
      },
    })
    .get(
      "/v1/connectors",
      ({ caller, query }) => caller.tenant((tx) => listConnectors(tx, caller.principal.workspaceId, query)),
      {
        scope: "connectors:read",
        query: t.Object(PageQuery),
        detail: { summary: "List connectors", tags: ["connectors"], responses: responses({ 200: ConnectorPage }) },
      },
    )
    .get(
      "/v1/connectors/:id",
      ({ caller, params }) => caller.tenant((tx) => getConnector(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "connectors:read",
        params: id("con"),
        detail: { summary: "Get a connector", tags: ["connectors"], responses: responses({ 200: Connector }) },
      },
    )
    .patch(
      "/v1/connectors/:id",
      ({ caller, params, body }) =>
        sealed(caller, (tx, box) => updateConnector(tx, box, caller.actor, params.id, body)),
      {
        scope: "connectors:write",
        params: id("con"),
        body: t.Object(
          {
            display_name: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
            config: t.Optional(Config),
            status: t.Optional(t.Union([t.Literal("active"), t.Literal("disabled")])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        detail: {
          summary: "Update a connector or replace its config",
          tags: ["connectors"],
          responses: responses({ 200: Connector }),
        },
      },
    )
    .delete(
      "/v1/connectors/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => deleteConnector(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "connectors:write",
        params: id("con"),
        detail: {
          summary: "Delete a connector and its stored config",
          tags: ["connectors"],
          responses: responses({ 204: null }),
        },
      },
    )
    .post(
      "/v1/webhooks",
      ({ caller, body, set }) => {
        assertUserUrl(body.url, outbound, "url");
        set.status = 201;
        return sealed(caller, (tx, box) => createWebhook(tx, box, caller.actor, body));
      },
      {
        scope: "webhooks:write",
        body: t.Object(
          {
            url: Url,
            events: t.Optional(t.Array(t.String({ pattern: "^[a-z_]+(\\.[a-z_*]+)*$" }), { maxItems: 50 })),
            secret: t.Optional(t.String({ minLength: 16, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Create an outbound webhook; its signing secret is shown in this response only",
          tags: ["webhooks"],
          responses: responses({ 201: CreatedWebhook }),
        },
      },
    )
    .get(
      "/v1/webhooks",
      ({ caller, query }) => sealed(caller, (tx, box) => listWebhooks(tx, box, caller.principal.workspaceId, query)),
      {
        scope: "webhooks:read",
        query: t.Object(PageQuery),
        detail: {
          summary: "List webhooks (secrets as has_secret and last four characters)",
          tags: ["webhooks"],
          responses: responses({ 200: WebhookPage }),
        },
      },
    )
    .get(
      "/v1/webhooks/:id",
      ({ caller, params }) => sealed(caller, (tx, box) => getWebhook(tx, box, caller.principal.workspaceId, params.id)),
      {
        scope: "webhooks:read",
        params: id("whk"),
        detail: { summary: "Get a webhook", tags: ["webhooks"], responses: responses({ 200: Webhook }) },
      },
    )
    .delete(
      "/v1/webhooks/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => deleteWebhook(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "webhooks:write",
        params: id("whk"),
        detail: { summary: "Delete a webhook", tags: ["webhooks"], responses: responses({ 204: null }) },
      },
    )
    .post(
      "/v1/inbound-webhooks",
      ({ caller, body, set, request }) => {
        set.status = 201;
        return sealed(caller, (tx, box) => createInboundWebhook(tx, box, caller.actor, body, originOf(request)));
      },
      {
        scope: "webhooks:write",
        body: t.Object(
          {
            source: t.Union(
              SOURCES.map((s) => t.Literal(s)),
              { description: "Which adapter reads its payloads" },
            ),
            connector_id: t.Optional(t.String({ pattern: "^con_[0-9a-z]{26}$" })),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Create an inbound webhook: its receiving URL and signing secret are shown once",
          tags: ["webhooks"],
          responses: responses({ 201: CreatedInboundWebhook }, [404]),
        },
      },
    );
}
