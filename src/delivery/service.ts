// What tenants do with their deliveries: read a webhook's deliveries (the dead-letter queue is status=dead),
// replay one, rotate the endpoint's signing secret with an overlap during which both secrets sign.
import type { Static } from "elysia";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import type { Delivery } from "./schemas.ts";
import { newWebhookSecret } from "./signing.ts";

export type DeliveryView = Static<typeof Delivery>;
export const DELIVERY_STATUSES = ["pending", "delivering", "delivered", "dead"] as const;

const iso = (value: unknown) => (value ? new Date(value as string).toISOString() : null);
const COLUMNS =
  "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at, dead_at";

function view(row: Record<string, unknown>): DeliveryView {
  return {
    id: row.id as string,
    webhook_id: row.webhook_id as string,
    event_id: row.event_id as string,
    event_type: row.event_type as string,
    status: row.status as string,
    attempts: Number(row.attempts),
    next_attempt_at: row.status === "pending" ? iso(row.next_attempt_at) : null,
    last_status: row.last_status === null ? null : Number(row.last_status),
    last_error: (row.last_error as string | null) ?? null,
    created_at: iso(row.created_at) as string,
    delivered_at: iso(row.delivered_at),
    dead_at: iso(row.dead_at),
  };
}

async function assertWebhook(tx: Tx, workspaceId: string, webhookId: string): Promise<void> {
  const [row] = await tx.query("select 1 from webhooks where workspace_id = $1 and id = $2 and deleted_at is null", [
    workspaceId,
    webhookId,
  ]);
  if (!row) throw new AppError("not_found", `webhook ${webhookId} not found`);
}

/** A webhook's deliveries, newest first; `status: "dead"` is its dead-letter queue. */
export async function listDeliveries(
  tx: Tx,
  workspaceId: string,
  webhookId: string,
  query: PageQuery & { status?: string } = {},
): Promise<Page<DeliveryView>> {
  await assertWebhook(tx, workspaceId, webhookId);
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from webhook_deliveries
      where workspace_id = $1 and webhook_id = $2 and ($3::text is null or status = $3)
        and ($4::text is null or id < $4) order by id desc limit $5`,
    [workspaceId, webhookId, query.status ?? null, after, limit + 1],
  );
  return idPage(rows.map(view), limit);
}

/** Sends a dead (or delivered) event again, with the same webhook-id, a fresh retry schedule and a closed circuit. */
export async function replayDelivery(
  tx: Tx,
  actor: Actor,
  webhookId: string,
  deliveryId: string,
): Promise<DeliveryView> {
  await assertWebhook(tx, actor.workspaceId, webhookId);
  const [before] = await tx.query<{ status: string }>(
    "select status from webhook_deliveries where workspace_id = $1 and webhook_id = $2 and id = $3",
    [actor.workspaceId, webhookId, deliveryId],
  );
  if (!before) throw new AppError("not_found", `delivery ${deliveryId} not found`);
  if (before.status === "pending" || before.status === "delivering")
    throw new AppError("conflict", `delivery ${deliveryId} is ${before.status}: it will be attempted anyway`);
  const [row] = await tx.query<Record<string, unknown>>(
    `update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(), dead_at = null
      where workspace_id = $1 and id = $2 returning ${COLUMNS}`,
    [actor.workspaceId, deliveryId],
  );
  await tx.query(
    `update webhooks set circuit_open_until = null, failure_count = 0,
            status = case when status = 'failing' then 'active' else status end
      where workspace_id = $1 and id = $2`,
    [actor.workspaceId, webhookId],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "webhook.delivery_replayed",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "webhook_delivery",
    targetId: deliveryId,
    before: { status: before.status },
    after: { webhook_id: webhookId },
    context: actor.context,
  });
  return view(row as Record<string, unknown>);
}

/** Replaces the signing secret; the previous one keeps signing too until `overlapHours` have passed. */
export async function rotateWebhookSecret(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  webhookId: string,
  overlapHours: number,
): Promise<{ secret: string; secret_last4: string; previous_valid_until: string | null }> {
  const [row] = await tx.query<{ secret_encrypted: string | null }>(
    "select secret_encrypted from webhooks where workspace_id = $1 and id = $2 and deleted_at is null",
    [actor.workspaceId, webhookId],
  );
  if (!row) throw new AppError("not_found", `webhook ${webhookId} not found`);
  const secret = newWebhookSecret();
  const sealed = await box.seal({ table: "webhooks", column: "secret_encrypted", rowId: webhookId }, secret);
  const previous = row.secret_encrypted
    ? await box.seal(
        { table: "webhooks", column: "secret_previous_encrypted", rowId: webhookId },
        await box.open({ table: "webhooks", column: "secret_encrypted", rowId: webhookId }, row.secret_encrypted),
      )
    : null;
  const [updated] = await tx.query<{ previous_valid_until: Date | null }>(
    `update webhooks set secret_encrypted = $3, secret_previous_encrypted = $4,
            secret_previous_until = case when $4::text is null then null else now() + make_interval(hours => $5) end
      where workspace_id = $1 and id = $2 returning secret_previous_until as previous_valid_until`,
    [actor.workspaceId, webhookId, sealed, previous, overlapHours],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "webhook.secret_rotated",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "webhook",
    targetId: webhookId,
    after: { overlap_hours: previous ? overlapHours : 0 },
    context: actor.context,
  });
  return { secret, secret_last4: secret.slice(-4), previous_valid_until: iso(updated?.previous_valid_until) };
}

/** Every webhook's deliveries in a workspace, newest first (the operator's view of the dead-letter queue). */
export async function listWorkspaceDeliveries(
  tx: Tx,
  workspaceId: string,
  query: { status?: string; limit?: number } = {},
): Promise<DeliveryView[]> {
  const rows = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from webhook_deliveries
      where workspace_id = $1 and ($2::text is null or status = $2) order by id desc limit $3`,
    [workspaceId, query.status ?? null, Math.min(query.limit ?? 100, 1000)],
  );
  return rows.map(view);
}

/** Replays a delivery named by its id alone (the CLI's way: the webhook is looked up). */
export async function replayDeliveryById(tx: Tx, actor: Actor, deliveryId: string): Promise<DeliveryView> {
  const [row] = await tx.query<{ webhook_id: string }>(
    "select webhook_id from webhook_deliveries where workspace_id = $1 and id = $2",
    [actor.workspaceId, deliveryId],
  );
  if (!row) throw new AppError("not_found", `delivery ${deliveryId} not found`);
  return replayDelivery(tx, actor, row.webhook_id, deliveryId);
}
