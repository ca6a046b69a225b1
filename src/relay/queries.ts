// POST /v1/connectors/{id}/query: a read-only query through the relay that offers the connector's database.
// The request is recorded (relay_queries) before it leaves, the relay's answer (already masked in the
// customer's network) is returned, and the audit trail gets the statement's fingerprint and normalized text,
// the tables, the row count, the masked cells by kind, the duration, the outcome, the relay and who asked —
// never the rows or the literals.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { type Actor, auditActor } from "../audit/service.ts";
import { PROTOCOL_VERSION, type QueryMessage, type ResultFrame } from "./protocol.ts";
import type { RelayHub } from "./hub/hub.ts";
import { type LiveSession, liveSession, RELAY_CONNECTOR_TYPES } from "./hub/sessions.ts";
import type { DatabaseKind } from "./types.ts";

export interface QueryInput {
  sql?: string;
  collection?: string;
  operation?: string;
  filter?: Record<string, unknown> | string;
  pipeline?: Record<string, unknown>[];
  projection?: Record<string, unknown>;
  sort?: Record<string, unknown>;
  field?: string;
  table?: string;
  key?: Record<string, unknown>;
  key_condition?: string;
  index?: string;
  values?: Record<string, unknown>;
  names?: Record<string, string>;
  limit?: number;
  timeout_ms?: number;
  max_rows?: number;
  store?: boolean;
}

export interface QueryAnswer {
  id: string;
  connector_id: string;
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
  masked: { by_kind: Record<string, number>; by_column: Record<string, number> };
  row_count: number;
  duration_ms: number;
  tables: string[];
  stored: boolean;
}

/** Limits asked of the relay; the relay applies its own policy's smaller ones on top. */
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_ROWS = 1_000;
const MAX_BYTES = 4 * 1024 * 1024;

const FIELDS: Record<DatabaseKind, readonly (keyof QueryInput)[]> = {
  postgres: ["sql"],
  mongodb: ["collection", "operation", "filter", "pipeline", "projection", "sort", "field", "limit"],
  dynamodb: ["table", "operation", "key", "key_condition", "filter", "index", "values", "names", "limit"],
};
const REQUIRED: Record<DatabaseKind, keyof QueryInput> = { postgres: "sql", mongodb: "collection", dynamodb: "table" };

/** The query as the relay receives it: only the fields of the database's kind, the required one present. */
export function relayQuery(kind: DatabaseKind, input: QueryInput): Record<string, unknown> {
  const required = REQUIRED[kind];
  if (input[required] === undefined)
    throw new AppError("validation_failed", `a ${kind} connector takes \`${required}\``);
  const query: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined || ["timeout_ms", "max_rows", "store"].includes(name)) continue;
    if (!FIELDS[kind].includes(name as keyof QueryInput))
      throw new AppError("validation_failed", `\`${name}\` does not apply to a ${kind} connector`);
    query[name] = value;
  }
  return query;
}

interface Target {
  session: LiveSession;
  database: string;
  kind: DatabaseKind;
}

async function target(tx: Tx, workspaceId: string, connectorId: string): Promise<Target> {
  const [row] = await tx.query<{ type: string; status: string; settings: Record<string, string> }>(
    "select type, status, settings from connectors where workspace_id = $1 and id = $2 and deleted_at is null",
    [workspaceId, connectorId],
  );
  if (!row) throw new AppError("not_found", `connector ${connectorId} not found`);
  if (!RELAY_CONNECTOR_TYPES.includes(row.type) || !row.settings.relay_token_id)
    throw new AppError("conflict", `connector ${connectorId} is not a database behind a relay`);
  const session = await liveSession(tx, workspaceId, row.settings.relay_token_id);
  if (!session)
    throw new AppError(
      "relay_unavailable",
      `the relay offering connector ${connectorId} is not connected (or its token was revoked)`,
    );
  return { session, database: String(row.settings.database), kind: row.settings.kind as DatabaseKind };
}

const REFUSAL_STATUS: Record<string, "relay_timeout" | "relay_unavailable" | "query_refused"> = {
  timeout: "relay_timeout",
  unavailable: "relay_unavailable",
};

export async function runRelayQuery(
  tenant: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  hub: RelayHub | undefined,
  actor: Actor,
  connectorId: string,
  input: QueryInput,
): Promise<QueryAnswer> {
  const ws = actor.workspaceId;
  const id = newId("rlq");
  const timeoutMs = input.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const { session, database, kind, query } = await tenant(async (tx) => {
    const found = await target(tx, ws, connectorId);
    const query = relayQuery(found.kind, input);
    if (!hub) throw new AppError("relay_unavailable", "this server runs no relay hub");
    await tx.query(
      `insert into relay_queries (workspace_id, id, connector_id, session_id, target_instance, status, store, requested_by)
       values ($1, $2, $3, $4, $5, 'pending', $6, $7)`,
      [ws, id, connectorId, found.session.session_id, found.session.instance_id, input.store ?? false, actor.actorId],
    );
    return { ...found, query };
  });
  const frame: QueryMessage = {
    v: PROTOCOL_VERSION,
    type: "query",
    id,
    database,
    query,
    limits: { timeout_ms: timeoutMs, max_rows: input.max_rows ?? DEFAULT_MAX_ROWS, max_bytes: MAX_BYTES },
    requested_by: actor.actorId,
  };
  // The relay's own statement timeout ends the query first; the extra seconds are for the way there and back.
  const answer = await (hub as RelayHub).execute(ws, session, frame, timeoutMs + 3_000);
  const durationMs = Math.round(performance.now() - started);
  await tenant((tx) => record(tx, actor, { id, connectorId, session, kind, answer, durationMs, store: input.store }));
  if (!answer.ok)
    throw new AppError(REFUSAL_STATUS[answer.error.code] ?? "query_refused", answer.error.reason, {
      query_id: id,
      reason_code: answer.error.code,
    });
  return {
    id,
    connector_id: connectorId,
    columns: answer.result.columns,
    rows: answer.result.rows,
    truncated: answer.result.truncated,
    masked: answer.meta.masked,
    row_count: answer.meta.row_count,
    duration_ms: durationMs,
    tables: answer.meta.tables,
    stored: input.store ?? false,
  };
}

async function record(
  tx: Tx,
  actor: Actor,
  q: {
    id: string;
    connectorId: string;
    session: LiveSession;
    kind: DatabaseKind;
    answer: ResultFrame;
    durationMs: number;
    store?: boolean;
  },
): Promise<void> {
  const { answer } = q;
  const status = answer.ok
    ? "succeeded"
    : ["policy", "parse", "invalid"].includes(answer.error.code)
      ? "refused"
      : "failed";
  const meta = answer.meta;
  await tx.query(
    `update relay_queries set status = $3, response = $4::jsonb, request = null, fingerprint = $5, row_count = $6,
            duration_ms = $7, finished_at = now() where workspace_id = $1 and id = $2`,
    [
      actor.workspaceId,
      q.id,
      status,
      answer.ok && q.store ? JSON.stringify(answer.result) : null,
      meta?.fingerprint ?? null,
      meta?.row_count ?? null,
      q.durationMs,
    ],
  );
  await auditActor(tx, actor, "relay.query", "connector", q.connectorId, {
    query_id: q.id,
    outcome: status,
    reason_code: answer.ok ? undefined : answer.error.code,
    reason: answer.ok ? undefined : answer.error.reason.slice(0, 300),
    kind: q.kind,
    fingerprint: meta?.fingerprint ?? null,
    normalized: meta?.normalized?.slice(0, 2000) ?? null,
    tables: meta?.tables ?? [],
    row_count: meta?.row_count ?? 0,
    masked_by_kind: meta?.masked.by_kind ?? {},
    duration_ms: q.durationMs,
    relay_session_id: q.session.session_id,
    relay: q.session.relay_name,
  });
}
