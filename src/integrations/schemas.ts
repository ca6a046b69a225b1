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
    id: t.String(),
    source: t.String(),
    path_token: t.String({ description: "Shown once: part of the receiving URL" }),
    signing_secret: t.String({ description: "Shown once" }),
    signing_secret_last4: t.String(),
  }),
);
