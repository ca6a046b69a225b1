// The relay's API shapes: relay tokens, the relays' connections, a query through a relay and its answer.
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";

export const RelayToken = component(
  "RelayToken",
  t.Object({
    id: t.String({ examples: ["rlt_01jd0000000000000000000000"] }),
    name: t.String({ description: "The relay's name: its databases appear as connectors named <name>/<database>" }),
    prefix: t.String({ description: "The first characters of the token, to recognise it" }),
    created_at: Timestamp,
    rotated_at: Nullable(Timestamp),
    last_used_at: Nullable(Timestamp),
    revoked_at: Nullable(Timestamp),
  }),
);
export const CreatedRelayToken = component(
  "CreatedRelayToken",
  t.Composite([
    RelayToken,
    t.Object({ token: t.String({ description: "Shown once: the relay's credential (relay.json `token`)" }) }),
  ]),
);
export const RelayTokenPage = component("RelayTokenPage", Page(RelayToken));

const DatabaseOffer = t.Object({
  name: t.String(),
  kind: t.Union([t.Literal("postgres"), t.Literal("mongodb"), t.Literal("dynamodb")]),
});
export const Relay = component(
  "Relay",
  t.Object({
    id: t.String({ examples: ["rls_01jd0000000000000000000000"], description: "The connection's id" }),
    relay: t.String({ description: "The relay token's name" }),
    token_id: t.String(),
    status: t.Union([t.Literal("connected"), t.Literal("disconnected")], {
      description: "connected: its socket is open and its heartbeat fresh",
    }),
    agent_version: t.String(),
    databases: t.Array(DatabaseOffer),
    instance_id: t.String({ description: "The serve instance holding its socket" }),
    connected_at: Timestamp,
    last_heartbeat_at: Timestamp,
    disconnected_at: Nullable(Timestamp),
  }),
);
export const RelayPage = component("RelayPage", Page(Relay));

const Json = t.Record(t.String(), t.Unknown());
export const RelayQueryBody = t.Object(
  {
    sql: t.Optional(t.String({ minLength: 1, maxLength: 100_000, description: "PostgreSQL: one SELECT or EXPLAIN" })),
    collection: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "MongoDB: the collection" })),
    operation: t.Optional(
      t.Union(
        ["find", "aggregate", "countDocuments", "distinct", "GetItem", "Query", "Scan", "DescribeTable"].map((o) =>
          t.Literal(o),
        ),
        {
          description:
            "MongoDB: find (default), aggregate, countDocuments, distinct; DynamoDB: GetItem, Query, Scan, DescribeTable",
        },
      ),
    ),
    filter: t.Optional(
      t.Union([Json, t.String({ maxLength: 4000 })], { description: "MongoDB filter, or a DynamoDB FilterExpression" }),
    ),
    pipeline: t.Optional(t.Array(Json, { maxItems: 100, description: "MongoDB aggregation pipeline" })),
    projection: t.Optional(Json),
    sort: t.Optional(Json),
    field: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "MongoDB distinct: the field" })),
    table: t.Optional(t.String({ minLength: 3, maxLength: 255, description: "DynamoDB: the table" })),
    key: t.Optional(Json),
    key_condition: t.Optional(t.String({ maxLength: 4000, description: "DynamoDB KeyConditionExpression" })),
    index: t.Optional(t.String({ maxLength: 255 })),
    values: t.Optional(Json),
    names: t.Optional(t.Record(t.String(), t.String())),
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 100_000 })),
    timeout_ms: t.Optional(t.Integer({ minimum: 100, maximum: 120_000, description: "Default 15000" })),
    max_rows: t.Optional(
      t.Integer({ minimum: 1, maximum: 100_000, description: "Default 1000; the relay's policy may cap lower" }),
    ),
    store: t.Optional(t.Boolean({ description: "Keep the (masked) result, readable at GET /v1/relay-queries/{id}" })),
  },
  { additionalProperties: false },
);

const Masked = t.Object({
  by_kind: t.Record(t.String(), t.Integer(), {
    description: "Masked cells by kind (email, phone, credit_card, …, policy)",
  }),
  by_column: t.Record(t.String(), t.Integer()),
});
export const RelayQueryResult = component(
  "RelayQueryResult",
  t.Object({
    id: t.String({ examples: ["rlq_01jd0000000000000000000000"] }),
    connector_id: t.String(),
    columns: t.Array(t.String()),
    rows: t.Array(t.Array(t.Unknown()), { description: "Masked inside the customer's network before they left it" }),
    truncated: t.Boolean({ description: "More rows (or bytes) existed than the caps allowed" }),
    masked: Masked,
    row_count: t.Integer(),
    duration_ms: t.Integer(),
    tables: t.Array(t.String()),
    stored: t.Boolean(),
  }),
);
export const RelayQueryRecord = component(
  "RelayQueryRecord",
  t.Object({
    id: t.String(),
    connector_id: t.String(),
    status: t.Union(["pending", "running", "succeeded", "refused", "failed"].map((s) => t.Literal(s))),
    fingerprint: Nullable(t.String()),
    row_count: Nullable(t.Integer()),
    duration_ms: Nullable(t.Integer()),
    requested_by: Nullable(t.String()),
    created_at: Timestamp,
    finished_at: Nullable(Timestamp),
    result: Nullable(
      t.Object(
        { columns: t.Array(t.String()), rows: t.Array(t.Array(t.Unknown())), truncated: t.Boolean() },
        {
          description: "The masked result, when the query was run with store: true",
        },
      ),
    ),
  }),
);

export const RelayConnectCheck = component(
  "RelayConnectCheck",
  t.Object({
    relay: t.String({ description: "The relay token's name" }),
    protocol_version: t.Integer(),
    upgrade: t.Literal("websocket"),
  }),
);
