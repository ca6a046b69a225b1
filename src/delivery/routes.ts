// /v1/webhooks/{id}/deliveries: what was sent where, the dead-letter queue, replay; secret rotation; and
// /v1/audit-streams: the trail streamed to a SIEM.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { authPlugin } from "../identity/auth.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { AuditStream, AuditStreamPage, Delivery, DeliveryPage, RotatedSecret } from "./schemas.ts";
import { createAuditStream, deleteAuditStream, getAuditStream, listAuditStreams } from "./streams.ts";
import type { OutboundPolicy } from "../net/policy.ts";
import { assertUserUrl } from "../net/user-url.ts";
import { DELIVERY_STATUSES, listDeliveries, replayDelivery, rotateWebhookSecret } from "./service.ts";

const WebhookId = t.String({ pattern: "^whk_[0-9a-z]{26}$" });
const DeliveryId = t.String({ pattern: "^dlv_[0-9a-z]{26}$" });

const StreamId = t.Object({ id: t.String({ pattern: "^ast_[0-9a-z]{26}$" }) });

export function deliveryRoutes(auth: ReturnType<typeof authPlugin>, kek: KekProvider, outbound: OutboundPolicy) {
  return new Elysia({ name: "delivery" })
    .use(auth)
    .post(
      "/v1/audit-streams",
      ({ caller, body, set }) => {
        assertUserUrl(body.url, outbound, "url");
        set.status = 201;
        return caller.tenant((tx) =>
          createAuditStream(tx, new SecretBox(tx, kek, caller.principal.workspaceId), caller.actor, body),
        );
      },
      {
        scope: "settings:write",
        body: t.Object(
          {
            url: t.String({ pattern: "^https?://", maxLength: 2000 }),
            format: t.Optional(t.Union([t.Literal("json"), t.Literal("splunk_hec")])),
            token: t.Optional(
              t.String({ minLength: 1, maxLength: 2000, description: "Bearer token, or the Splunk HEC token" }),
            ),
            batch_size: t.Optional(t.Integer({ minimum: 1, maximum: 5000 })),
            from: t.Optional(
              t.Union([t.Literal("start"), t.Literal("now")], {
                description: "start (default): the whole trail; now: only events from here on",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Stream the workspace's audit trail to a SIEM (a JSON collector or Splunk HEC), in order",
          tags: ["audit"],
          responses: responses({ 201: AuditStream }),
        },
      },
    )
    .get(
      "/v1/audit-streams",
      ({ caller, query }) => caller.tenant((tx) => listAuditStreams(tx, caller.principal.workspaceId, query)),
      {
        scope: "audit:read",
        query: t.Object(PageQuery),
        detail: {
          summary: "List audit streams with their cursor and lag",
          tags: ["audit"],
          responses: responses({ 200: AuditStreamPage }),
        },
      },
    )
    .get(
      "/v1/audit-streams/:id",
      ({ caller, params }) => caller.tenant((tx) => getAuditStream(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "audit:read",
        params: StreamId,
        detail: { summary: "Get an audit stream", tags: ["audit"], responses: responses({ 200: AuditStream }) },
      },
    )
    .delete(
      "/v1/audit-streams/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => deleteAuditStream(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "settings:write",
        params: StreamId,
        detail: { summary: "Stop and delete an audit stream", tags: ["audit"], responses: responses({ 204: null }) },
      },
    )
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
