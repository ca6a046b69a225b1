// The relay protocol, version 1: JSON text frames over one WebSocket that the relay opens to
// /v1/relay/connect. Both sides validate every frame against these schemas; a frame that does not validate
// closes the connection (1007) and is never acted on.
//
//   relay → server  hello     { v, type, agent_version, databases: [{ name, kind }] }   (first frame)
//   server → relay  welcome   { v, type, session_id, heartbeat_seconds, relay_name }
//   relay → server  heartbeat { v, type, in_flight }        server → relay  heartbeat_ack { v, type }
//   server → relay  query     { v, type, id, database, query, limits, requested_by }
//   relay → server  result    { v, type, id, ok: true, result, meta } | { v, type, id, ok: false, error, meta }
//   relay → server  draining  { v, type }                    (SIGTERM: no new queries; in-flight ones finish)
import { type Static, type TSchema, Type as t } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export const PROTOCOL_VERSION = 1;
/** The largest frame either side accepts (a result is capped well below it by the relay's byte cap). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const v = t.Literal(PROTOCOL_VERSION);
const id = t.String({ pattern: "^rlq_[0-9a-z]{26}$" });
const name = t.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$" });
const kind = t.Union([t.Literal("postgres"), t.Literal("mongodb"), t.Literal("dynamodb")]);

export const Hello = t.Object(
  {
    v,
    type: t.Literal("hello"),
    agent_version: t.String({ minLength: 1, maxLength: 64 }),
    databases: t.Array(t.Object({ name, kind }, { additionalProperties: false }), { maxItems: 64 }),
  },
  { additionalProperties: false },
);
export const Heartbeat = t.Object(
  { v, type: t.Literal("heartbeat"), in_flight: t.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export const Draining = t.Object({ v, type: t.Literal("draining") }, { additionalProperties: false });

const Meta = t.Object(
  {
    tables: t.Array(t.String({ maxLength: 300 }), { maxItems: 200 }),
    normalized: t.Union([t.String({ maxLength: 20_000 }), t.Null()]),
    fingerprint: t.Union([t.String({ maxLength: 128 }), t.Null()]),
    duration_ms: t.Integer({ minimum: 0 }),
    row_count: t.Integer({ minimum: 0 }),
    masked: t.Object({
      by_kind: t.Record(t.String(), t.Integer({ minimum: 0 })),
      by_column: t.Record(t.String(), t.Integer({ minimum: 0 })),
    }),
  },
  { additionalProperties: false },
);
export const ResultOk = t.Object(
  {
    v,
    type: t.Literal("result"),
    id,
    ok: t.Literal(true),
    result: t.Object(
      {
        columns: t.Array(t.String({ maxLength: 300 }), { maxItems: 2000 }),
        rows: t.Array(t.Array(t.Unknown())),
        truncated: t.Boolean(),
      },
      { additionalProperties: false },
    ),
    meta: Meta,
  },
  { additionalProperties: false },
);
export const ResultError = t.Object(
  {
    v,
    type: t.Literal("result"),
    id,
    ok: t.Literal(false),
    error: t.Object(
      {
        code: t.Union(
          ["policy", "parse", "database", "timeout", "too_large", "unavailable", "invalid"].map((c) => t.Literal(c)),
        ),
        reason: t.String({ maxLength: 2000 }),
      },
      { additionalProperties: false },
    ),
    meta: t.Optional(Meta),
  },
  { additionalProperties: false },
);

export const Welcome = t.Object(
  {
    v,
    type: t.Literal("welcome"),
    session_id: t.String({ pattern: "^rls_[0-9a-z]{26}$" }),
    relay_name: name,
    heartbeat_seconds: t.Integer({ minimum: 1, maximum: 300 }),
  },
  { additionalProperties: false },
);
export const HeartbeatAck = t.Object({ v, type: t.Literal("heartbeat_ack") }, { additionalProperties: false });
export const QueryFrame = t.Object(
  {
    v,
    type: t.Literal("query"),
    id,
    database: name,
    query: t.Record(t.String(), t.Unknown()),
    limits: t.Object(
      {
        timeout_ms: t.Integer({ minimum: 100, maximum: 300_000 }),
        max_rows: t.Integer({ minimum: 1, maximum: 100_000 }),
        max_bytes: t.Integer({ minimum: 1024, maximum: 10 * 1024 * 1024 }),
      },
      { additionalProperties: false },
    ),
    requested_by: t.String({ maxLength: 100 }),
  },
  { additionalProperties: false },
);

export type HelloFrame = Static<typeof Hello>;
export type ResultFrame = Static<typeof ResultOk> | Static<typeof ResultError>;
export type QueryMessage = Static<typeof QueryFrame>;
export type WelcomeFrame = Static<typeof Welcome>;
export type RelayFrame = HelloFrame | Static<typeof Heartbeat> | Static<typeof Draining> | ResultFrame;
export type ServerFrame = WelcomeFrame | Static<typeof HeartbeatAck> | QueryMessage;

const RELAY_FRAMES = [Hello, Heartbeat, Draining, ResultOk, ResultError];
const SERVER_FRAMES = [Welcome, HeartbeatAck, QueryFrame];

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

function parseFrame(data: string | Buffer | ArrayBuffer | Uint8Array, schemas: readonly TSchema[]): unknown {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data as Uint8Array);
  if (text.length > MAX_FRAME_BYTES) throw new ProtocolError("frame too large");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError("frame is not JSON");
  }
  const frame = value as { v?: unknown; type?: unknown };
  if (typeof frame !== "object" || frame === null) throw new ProtocolError("frame is not an object");
  if (frame.v !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${String(frame.v)}`);
  if (!schemas.some((schema) => Value.Check(schema, value)))
    throw new ProtocolError(`malformed ${typeof frame.type === "string" ? frame.type.slice(0, 40) : "frame"}`);
  return value;
}

/** A frame the relay sent, validated (throws ProtocolError). */
export const parseRelayFrame = (data: string | Buffer | ArrayBuffer | Uint8Array) =>
  parseFrame(data, RELAY_FRAMES) as RelayFrame;
/** A frame the server sent, validated (throws ProtocolError). */
export const parseServerFrame = (data: string | Buffer | ArrayBuffer | Uint8Array) =>
  parseFrame(data, SERVER_FRAMES) as ServerFrame;
