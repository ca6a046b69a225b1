// The integration routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";

export const Connector = component(
  "Connector",
  t.Object({
    id: t.String({ examples: ["con_01jd0000000000000000000000"] }),
    type: t.String({ examples: ["sentry"] }),
    display_name: t.String(),
    status: t.String({ examples: ["pending", "active"] }),
    has_config: t.Boolean({ description: "The config is stored encrypted and never returned" }),
    config_keys: t.Array(t.String(), { description: "The names of the config's fields" }),
    last_event_at: Nullable(Timestamp),
    last_error: Nullable(
      t.String({ description: "Why the last inbound request was refused (status error after 3 in a row)" }),
    ),
    created_at: Nullable(Timestamp),
    updated_at: Nullable(Timestamp),
  }),
);
export const ConnectorPage = component("ConnectorPage", Page(Connector));

export const Webhook = component(
  "Webhook",
  t.Object({
    id: t.String({ examples: ["whk_01jd0000000000000000000000"] }),
    url: t.String(),
    events: t.Array(t.String()),
    status: t.String(),
    has_secret: t.Boolean(),
    secret_last4: Nullable(t.String()),
    created_at: Nullable(Timestamp),
  }),
);
export const WebhookPage = component("WebhookPage", Page(Webhook));
export const CreatedWebhook = component(
  "CreatedWebhook",
  t.Composite([Webhook, t.Object({ secret: t.String({ description: "The signing secret, shown once" }) })]),
);

export const CreatedInboundWebhook = component(
  "CreatedInboundWebhook",
  t.Object({
    id: t.String({ examples: ["iwh_01jd0000000000000000000000"] }),
    source: t.String({ examples: ["sentry"] }),
    url: t.String({ description: "The receiving URL (POST signed events to it); shown once" }),
    signing_secret: t.String({ description: "Shown once: signs every request (see the README, Ingestion)" }),
    signing_secret_last4: t.String(),
  }),
);

export const CreatedConnector = component(
  "CreatedConnector",
  t.Composite([
    Connector,
    t.Object({
      inbound_webhook: t.Optional(CreatedInboundWebhook),
    }),
  ]),
);

export const CatalogueEntry = component(
  "CatalogueEntry",
  t.Object({
    slug: t.String({ examples: ["sentry"] }),
    name: t.String(),
    category: t.String(),
    auth_kind: t.String(),
    description: t.String(),
    docs_url: Nullable(t.String()),
    inbound: t.Boolean({ description: "It sends events to Causeloop: its connector comes with a receiving URL" }),
    signature_schemes: t.Array(t.String(), { description: "How its requests may be signed" }),
  }),
);
export const ConnectorCatalogue = component(
  "ConnectorCatalogue",
  t.Object({ data: t.Array(CatalogueEntry), next_cursor: t.Null() }),
);
