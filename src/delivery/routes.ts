// /v1/webhooks/{id}/deliveries: what was sent where, the dead-letter queue, replay; and secret rotation.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { authPlugin } from "../identity/auth.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { Delivery, DeliveryPage, RotatedSecret } from "./schemas.ts";
import { DELIVERY_STATUSES, listDeliveries, replayDelivery, rotateWebhookSecret } from "./service.ts";

const WebhookId = t.String({ pattern: "^whk_[0-9a-z]{26}$" });
const DeliveryId = t.String({ pattern: "^dlv_[0-9a-z]{26}$" });

export function deliveryRoutes(auth: ReturnType<typeof authPlugin>, kek: KekProvider) {
  return new Elysia({ name: "delivery" })
    .use(auth)
    .get(
      "/v1/webhooks/:id/deliveries",
      ({ caller, params, query }) =>
        caller.tenant((tx) => listDeliveries(tx, caller.principal.workspaceId, params.id, query)),
      {
        scope: "webhooks:read",
        params: t.Object({ id: WebhookId }),
        query: t.Object({
          ...PageQuery,
          status: t.Optional(
            t.Union(
              DELIVERY_STATUSES.map((s) => t.Literal(s)),
              { description: "dead: the dead-letter queue" },
            ),
          ),
        }),
        detail: {
          summary: "List a webhook's deliveries, newest first (status=dead is its dead-letter queue)",
          tags: ["webhooks"],
          responses: responses({ 200: DeliveryPage }),
        },
      },
    )
    .post(
      "/v1/webhooks/:id/deliveries/:delivery_id/replay",
      ({ caller, params, set }) => {
        set.status = 202;
        return caller.tenant((tx) => replayDelivery(tx, caller.actor, params.id, params.delivery_id));
      },
      {
        scope: "webhooks:write",
        params: t.Object({ id: WebhookId, delivery_id: DeliveryId }),
        detail: {
          summary: "Send a dead-lettered (or delivered) event again, with the same webhook-id",
          tags: ["webhooks"],
          responses: responses({ 202: Delivery }, [409]),
        },
      },
    )
    .post(
      "/v1/webhooks/:id/rotate-secret",
      ({ caller, params, body }) =>
        caller.tenant((tx) =>
          rotateWebhookSecret(
            tx,
            new SecretBox(tx, kek, caller.principal.workspaceId),
            caller.actor,
            params.id,
            body?.overlap_hours ?? 24,
          ),
        ),
      {
        scope: "webhooks:write",
        params: t.Object({ id: WebhookId }),
        body: t.Optional(
          t.Object(
            {
              overlap_hours: t.Optional(
                t.Integer({
                  minimum: 0,
                  maximum: 168,
                  description: "How long the previous secret also signs (default 24)",
                }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        detail: {
          summary: "Rotate the signing secret; the previous one keeps signing during the overlap",
          tags: ["webhooks"],
          responses: responses({ 200: RotatedSecret }),
        },
      },
    );
}
