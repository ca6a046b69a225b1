// Connectors, outbound webhooks and inbound webhooks: every secret they hold is sealed with
// the workspace's data key (envelope encryption) before it touches the database, and no response returns
// a secret after creation (only has_secret / the last four characters).

import type { Static } from "elysia";
import type { Connector, Webhook } from "./schemas.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import type { Tx } from "../db/engine.ts";
import { newId } from "../ids.ts";
import { AppError } from "../errors.ts";
import { auditActor } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import { newToken } from "../identity/tokens.ts";
import { isSource, SOURCES } from "../ingestion/adapters/index.ts";
import { redactUrlCredentials } from "../net/user-url.ts";
import { EVENT_TYPES, unknownEventNames } from "../delivery/events.ts";
import { assertWebhookSecret, newWebhookSecret } from "../delivery/signing.ts";

const last4 = (secret: string) => secret.slice(-4);
const iso = (value: unknown) => (value ? new Date(value as string).toISOString() : null);

// ---------------------------------------------------------------- connectors

/** A connector as the API answers it (the contract's schema is the one definition). */
export type ConnectorView = Static<typeof Connector>;

interface ConnectorRow {
  id: string;
  type: string;
  display_name: string;
  status: string;
  config_encrypted: string | null;
  settings: { config_keys?: string[] } | null;
  last_synced_at: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

function connectorView(row: ConnectorRow): ConnectorView {
  return {
    id: row.id,
    type: row.type,
    display_name: row.display_name,
    status: row.status,
    has_config: row.config_encrypted !== null,
    config_keys: row.settings?.config_keys ?? [],
    last_event_at: iso(row.last_synced_at),
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

const CONNECTOR_COLUMNS =
  "id, type, display_name, status, config_encrypted, settings, last_synced_at, last_error, created_at, updated_at";

export async function createConnector(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  input: { type: string; display_name: string; config: Record<string, unknown> },
  baseUrl: string,
): Promise<ConnectorView & { inbound_webhook?: CreatedInbound }> {
  const known = await tx.query<{ slug: string }>("select slug from connector_catalogue where slug = $1", [input.type]);
  if (!known[0])
    throw new AppError("validation_failed", `unknown connector type "${input.type}" (see the connector catalogue)`);
  const id = newId("con");
  const sealed = await box.seal(
    { table: "connectors", column: "config_encrypted", rowId: id },
    JSON.stringify(input.config),
  );
  const [row] = await tx.query<ConnectorRow>(
    `insert into connectors (workspace_id, id, type, display_name, config_encrypted, settings, created_by)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7) returning ${CONNECTOR_COLUMNS}`,
    [
      actor.workspaceId,
      id,
      input.type,
      input.display_name,
      sealed,
      JSON.stringify({ config_keys: Object.keys(input.config).sort() }),
      actor.actorId,
    ],
  );
  const view = connectorView(row as ConnectorRow);
  await auditActor(tx, actor, "connector.created", "connector", id, {
    type: view.type,
    display_name: view.display_name,
    config_keys: view.config_keys,
  });
  // A product that sends its events to us gets its receiving URL now (its secret is shown in this answer only).
  if (!isSource(input.type)) return view;
  const inbound = await createInboundWebhook(tx, box, actor, { source: input.type, connector_id: id }, baseUrl);
  return { ...view, inbound_webhook: inbound };
}

async function connectorRow(tx: Tx, workspaceId: string, id: string): Promise<ConnectorRow> {
  const [row] = await tx.query<ConnectorRow>(
    `select ${CONNECTOR_COLUMNS} from connectors where workspace_id = $1 and id = $2 and deleted_at is null`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `connector ${id} not found`);
  return row;
}

export async function getConnector(tx: Tx, workspaceId: string, id: string): Promise<ConnectorView> {
  return connectorView(await connectorRow(tx, workspaceId, id));
}

/** Connectors, newest first. */
export async function listConnectors(tx: Tx, workspaceId: string, query: PageQuery = {}): Promise<Page<ConnectorView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<ConnectorRow>(
    `select ${CONNECTOR_COLUMNS} from connectors
      where workspace_id = $1 and deleted_at is null and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(rows.map(connectorView), limit);
}

/** The decrypted configuration, for the workers that call the connected product; never sent to clients. */
export async function readConnectorConfig(
  tx: Tx,
  box: SecretBox,
  workspaceId: string,
  id: string,
): Promise<Record<string, unknown>> {
  const row = await connectorRow(tx, workspaceId, id);
  if (!row.config_encrypted) return {};
  return JSON.parse(
    await box.open({ table: "connectors", column: "config_encrypted", rowId: id }, row.config_encrypted),
  ) as Record<string, unknown>;
}

export async function updateConnector(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  id: string,
  input: { display_name?: string; config?: Record<string, unknown>; status?: string },
): Promise<ConnectorView> {
  const before = await connectorRow(tx, actor.workspaceId, id);
  const sealed = input.config
    ? await box.seal({ table: "connectors", column: "config_encrypted", rowId: id }, JSON.stringify(input.config))
    : null;
  const [row] = await tx.query<ConnectorRow>(
    `update connectors set display_name = coalesce($3, display_name), status = coalesce($4, status),
            config_encrypted = coalesce($5, config_encrypted),
            settings = case when $5 is null then settings else jsonb_set(settings, '{config_keys}', $6::jsonb) end
      where workspace_id = $1 and id = $2 returning ${CONNECTOR_COLUMNS}`,
    [
      actor.workspaceId,
      id,
      input.display_name ?? null,
      input.status ?? null,
      sealed,
      JSON.stringify(Object.keys(input.config ?? {}).sort()),
    ],
  );
  const view = connectorView(row as ConnectorRow);
  await auditActor(
    tx,
    actor,
    "connector.updated",
    "connector",
    id,
    { display_name: view.display_name, status: view.status, config_changed: Boolean(input.config) },
    { display_name: before.display_name, status: before.status },
  );
  return view;
}

export async function deleteConnector(tx: Tx, actor: Actor, id: string): Promise<void> {
  await connectorRow(tx, actor.workspaceId, id);
  await tx.query(
    "update connectors set deleted_at = now(), config_encrypted = null where workspace_id = $1 and id = $2",
    [actor.workspaceId, id],
  );
  // Its receiving URLs stop receiving with it.
  await tx.query(
    "update inbound_webhooks set status = 'disabled' where workspace_id = $1 and connector_id = $2 and deleted_at is null",
    [actor.workspaceId, id],
  );
  await auditActor(tx, actor, "connector.deleted", "connector", id);
}

// ---------------------------------------------------------------- outbound webhooks

/** A webhook as the API answers it (secrets only as has_secret and the last four characters). */
export type WebhookView = Static<typeof Webhook>;

interface WebhookRow {
  id: string;
  url: string;
  events: string[];
  status: string;
  secret_encrypted: string | null;
  created_at: Date;
}

async function webhookView(box: SecretBox, row: WebhookRow): Promise<WebhookView> {
  const secret = row.secret_encrypted
    ? await box.open({ table: "webhooks", column: "secret_encrypted", rowId: row.id }, row.secret_encrypted)
    : null;
  // New URLs cannot carry credentials (checked at creation); one stored before that check never leaves redacted.
  return {
    id: row.id,
    url: redactUrlCredentials(row.url),
    events: row.events,
    status: row.status,
    has_secret: secret !== null,
    secret_last4: secret ? last4(secret) : null,
    created_at: iso(row.created_at),
  };
}

export async function createWebhook(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  input: { url: string; events?: string[]; secret?: string },
): Promise<WebhookView & { secret: string }> {
  const unknown = unknownEventNames(input.events ?? []);
  if (unknown.length)
    throw new AppError(
      "validation_failed",
      `unknown event ${unknown.map((name) => `"${name}"`).join(", ")}; known: ${EVENT_TYPES.join(", ")}, a family such as "issue.*", or "*"`,
    );
  if (input.secret !== undefined) assertWebhookSecret(input.secret);
  const id = newId("whk");
  const secret = input.secret ?? newWebhookSecret();
  const sealed = await box.seal({ table: "webhooks", column: "secret_encrypted", rowId: id }, secret);
  const [row] = await tx.query<WebhookRow>(
    "insert into webhooks (workspace_id, id, url, events, secret_encrypted, created_by) values ($1, $2, $3, $4, $5, $6) returning id, url, events, status, secret_encrypted, created_at",
    [actor.workspaceId, id, input.url, input.events ?? [], sealed, actor.actorId],
  );
  await auditActor(tx, actor, "webhook.created", "webhook", id, { url: input.url, events: input.events ?? [] });
  return { ...(await webhookView(box, row as WebhookRow)), secret };
}

/** Outbound webhooks, newest first. */
export async function listWebhooks(
  tx: Tx,
  box: SecretBox,
  workspaceId: string,
  query: PageQuery = {},
): Promise<Page<WebhookView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<WebhookRow>(
    `select id, url, events, status, secret_encrypted, created_at from webhooks
      where workspace_id = $1 and deleted_at is null and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(await Promise.all(rows.map((r) => webhookView(box, r))), limit);
}

export async function getWebhook(tx: Tx, box: SecretBox, workspaceId: string, id: string): Promise<WebhookView> {
  const [row] = await tx.query<WebhookRow>(
    "select id, url, events, status, secret_encrypted, created_at from webhooks where workspace_id = $1 and id = $2 and deleted_at is null",
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `webhook ${id} not found`);
  return webhookView(box, row);
}

export async function deleteWebhook(tx: Tx, actor: Actor, id: string): Promise<void> {
  const rows = await tx.query(
    "update webhooks set deleted_at = now(), secret_encrypted = null where workspace_id = $1 and id = $2 and deleted_at is null returning id",
    [actor.workspaceId, id],
  );
  if (!rows[0]) throw new AppError("not_found", `webhook ${id} not found`);
  await auditActor(tx, actor, "webhook.deleted", "webhook", id);
}

// ---------------------------------------------------------------- inbound webhooks

/** An inbound webhook as its creation answers it: the receiving URL and the signing secret, shown once. */
export interface CreatedInbound {
  id: string;
  source: string;
  url: string;
  signing_secret: string;
  signing_secret_last4: string;
}

/**
 * A receiving URL for one source: the path token names the workspace (like an access token) and only its hash
 * is stored; the signing secret (a Standard Webhooks `whsec_` secret, also the HMAC key of the other schemes) is
 * sealed with the workspace key. `baseUrl` is the API's public origin.
 */
export async function createInboundWebhook(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  input: { source: string; connector_id?: string },
  baseUrl: string,
): Promise<CreatedInbound> {
  if (!isSource(input.source))
    throw new AppError("validation_failed", `unknown source "${input.source}" (one of ${SOURCES.join(", ")})`);
  const id = newId("iwh");
  const { token, hash } = newToken("hook", actor.workspaceId);
  const signingSecret = newWebhookSecret();
  const sealed = await box.seal(
    { table: "inbound_webhooks", column: "signing_secret_encrypted", rowId: id },
    signingSecret,
  );
  if (input.connector_id) await connectorRow(tx, actor.workspaceId, input.connector_id);
  await tx.query(
    "insert into inbound_webhooks (workspace_id, id, connector_id, source, path_token_hash, signing_secret_encrypted, created_by) values ($1, $2, $3, $4, $5, $6, $7)",
    [actor.workspaceId, id, input.connector_id ?? null, input.source, hash, sealed, actor.actorId],
  );
  await auditActor(tx, actor, "inbound_webhook.created", "inbound_webhook", id, {
    source: input.source,
    connector_id: input.connector_id ?? null,
  });
  return {
    id,
    source: input.source,
    url: `${baseUrl.replace(/\/+$/, "")}/v1/hooks/${token}`,
    signing_secret: signingSecret,
    signing_secret_last4: last4(signingSecret),
  };
}
