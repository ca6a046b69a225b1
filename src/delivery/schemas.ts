// The delivery routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";

export const Delivery = component(
  "WebhookDelivery",
  t.Object({
    id: t.String({ examples: ["dlv_01jd0000000000000000000000"] }),
    webhook_id: t.String(),
    event_id: t.String({ description: "The webhook-id header: the same on every attempt and replay" }),
    event_type: t.String({ examples: ["issue.created"] }),
    status: t.String({
      examples: ["pending", "delivered", "dead"],
      description: "pending, delivering, delivered, or dead (the dead-letter queue: every retry spent)",
    }),
    attempts: t.Integer(),
    next_attempt_at: Nullable(Timestamp),
    last_status: Nullable(t.Integer({ description: "The HTTP status of the last attempt" })),
    last_error: Nullable(t.String()),
    created_at: Timestamp,
    delivered_at: Nullable(Timestamp),
    dead_at: Nullable(Timestamp),
  }),
);
export const DeliveryPage = component("WebhookDeliveryPage", Page(Delivery));

export const RotatedSecret = component(
  "RotatedWebhookSecret",
  t.Object({
    secret: t.String({ description: "The new signing secret, shown once" }),
    secret_last4: t.String(),
    previous_valid_until: Nullable(Timestamp),
  }),
);

export const AuditStream = component(
  "AuditStream",
  t.Object({
    id: t.String({ examples: ["ast_01jd0000000000000000000000"] }),
    url: t.String(),
    format: t.String({ examples: ["json", "splunk_hec"] }),
    has_token: t.Boolean({ description: "The collector token is stored encrypted and never returned" }),
    batch_size: t.Integer(),
    cursor_seq: t.Integer({ description: "The last audit seq the collector acknowledged" }),
    lag: t.Integer({ description: "Audit events not yet acknowledged by the collector" }),
    status: t.String({ examples: ["active", "paused"] }),
    failure_count: t.Integer({ description: "Failed sends in a row (the batch is retried, never dropped)" }),
    last_status: Nullable(t.Integer()),
    last_error: Nullable(t.String()),
    last_sent_at: Nullable(Timestamp),
    created_at: Timestamp,
  }),
);
export const AuditStreamPage = component("AuditStreamPage", Page(AuditStream));
