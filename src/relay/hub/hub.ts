// The relay hub in `serve`: relays connect here over WebSocket (/v1/relay/connect), and queries reach them
// through it. Several serve instances share one PostgreSQL: a query reaching an instance that does not hold
// the relay's socket is handed to the one that does through relay_queries (a row, a NOTIFY, a poll that
// catches a lost notification), and its answer comes back the same way.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Engine } from "../../db/engine.ts";
import type { TenantDoor } from "../../db/tenant.ts";
import { newId } from "../../ids.ts";
import type { Logger } from "../../log.ts";
import { problemResponse } from "../../http/problem.ts";
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, parseRelayFrame, ProtocolError } from "../protocol.ts";
import type { HelloFrame, QueryMessage, ResultFrame } from "../protocol.ts";
import { findRelayToken, parseRelayToken, RELAY_UNAUTHORIZED, relayTokenLive } from "../tokens.ts";
import { beat, closeSession, HEARTBEAT_SECONDS, type LiveSession, openSession } from "./sessions.ts";

interface Pending {
  resolve: (frame: ResultFrame) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface SocketData {
  workspaceId: string;
  tokenId: string;
  /** The sha256 of the secret this socket authenticated with (a rotation makes it stale). */
  tokenHash: string;
  relayName: string;
  ip?: string;
  userAgent?: string;
  sessionId?: string;
  draining: boolean;
  pending: Map<string, Pending>;
  helloTimer?: ReturnType<typeof setTimeout>;
}

type RelaySocket = ServerWebSocket<SocketData>;

const HELLO_TIMEOUT_MS = 10_000;
/** How often an instance looks for queries handed to it, and a waiting caller for its answer. */
const POLL_MS = 250;

/** A failed answer made here (the relay never saw the query, or its socket went away). */
export function failure(id: string, code: "unavailable" | "timeout", reason: string): ResultFrame {
  return { v: PROTOCOL_VERSION, type: "result", id, ok: false, error: { code, reason } };
}

export interface RelayHub {
  readonly instanceId: string;
  readonly websocket: WebSocketHandler<SocketData>;
  /** Authenticates a relay and upgrades its request; a Response when it was refused. */
  upgrade(request: Request, server: Server<SocketData>, ip?: string): Promise<Response | undefined>;
  /**
   * Sends a query (already recorded in relay_queries) to the session's relay wherever it is connected and
   * waits for its answer, at most waitMs.
   */
  execute(workspaceId: string, session: LiveSession, frame: QueryMessage, waitMs: number): Promise<ResultFrame>;
  /** Relays connected to this instance, by session id. */
  connected(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createRelayHub(deps: { engine: Engine; door: TenantDoor; logger: Logger }): RelayHub {
  const { engine, door, logger } = deps;
  const instanceId = newId("ins");
  const sockets = new Map<string, RelaySocket>();
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  /** Session records still being closed (a stop waits for them before the database closes). */
  const closing = new Set<Promise<unknown>>();

  const send = (ws: RelaySocket, frame: object) => ws.send(JSON.stringify(frame));

  const settleAll = (data: SocketData, reason: string) => {
    for (const [id, pending] of data.pending) {
      clearTimeout(pending.timer);
      pending.resolve(failure(id, "unavailable", reason));
    }
    data.pending.clear();
  };

  const onHello = async (ws: RelaySocket, hello: HelloFrame) => {
    const data = ws.data;
    clearTimeout(data.helloTimer);
    const names = new Set(hello.databases.map((d) => d.name));
    if (names.size !== hello.databases.length) {
      ws.close(1008, "duplicate database names");
      return;
    }
    const opened = await door(data.workspaceId, (tx) =>
      openSession(tx, {
        workspaceId: data.workspaceId,
        tokenId: data.tokenId,
        relayName: data.relayName,
        instanceId,
        agentVersion: hello.agent_version,
        databases: hello.databases,
        ip: data.ip,
        context: { ip: data.ip, userAgent: data.userAgent },
      }),
    );
    // An earlier socket of the same relay on this instance is replaced by this one.
    for (const [id, other] of sockets)
      if (other !== ws && other.data.tokenId === data.tokenId && other.data.workspaceId === data.workspaceId) {
        sockets.delete(id);
        other.close(4000, "replaced by a newer connection of the same relay");
      }
    data.sessionId = opened.sessionId;
    sockets.set(opened.sessionId, ws);
    send(ws, {
      v: PROTOCOL_VERSION,
      type: "welcome",
      session_id: opened.sessionId,
      relay_name: data.relayName,
      heartbeat_seconds: HEARTBEAT_SECONDS,
    });
    logger.info("relay.connected", {
      workspace_id: data.workspaceId,
      session_id: opened.sessionId,
      relay: data.relayName,
      databases: hello.databases.length,
    });
  };

  const onHeartbeat = async (ws: RelaySocket) => {
    const { workspaceId, tokenId, tokenHash, sessionId } = ws.data;
    if (!sessionId) return;
    // Revocation and rotation reach a connected relay here: its secret is checked at every beat.
    const live = await door(
      workspaceId,
      async (tx) => (await relayTokenLive(tx, workspaceId, tokenId, tokenHash)) && beat(tx, workspaceId, sessionId),
    );
    if (!live) {
      ws.close(4001, "relay token revoked or rotated");
      return;
    }
    send(ws, { v: PROTOCOL_VERSION, type: "heartbeat_ack" });
  };

  const onMessage = async (ws: RelaySocket, message: string | Buffer) => {
    let frame: ReturnType<typeof parseRelayFrame>;
    try {
      frame = parseRelayFrame(message);
    } catch (error) {
      const reason = error instanceof ProtocolError ? error.message : "malformed frame";
      logger.warn("relay.protocol_error", { workspace_id: ws.data.workspaceId, reason });
      ws.close(1007, reason.slice(0, 120));
      return;
    }
    if (frame.type === "hello") {
      if (ws.data.sessionId) ws.close(1008, "hello sent twice");
      else await onHello(ws, frame);
      return;
    }
    if (!ws.data.sessionId) {
      ws.close(1008, "hello expected first");
      return;
    }
    if (frame.type === "heartbeat") await onHeartbeat(ws);
    else if (frame.type === "draining") ws.data.draining = true;
    else {
      const pending = ws.data.pending.get(frame.id);
      if (!pending) return; // answered after its wait ended: the caller already had a timeout
      ws.data.pending.delete(frame.id);
      clearTimeout(pending.timer);
      pending.resolve(frame);
    }
  };

  const websocket: WebSocketHandler<SocketData> = {
    maxPayloadLength: MAX_FRAME_BYTES,
    idleTimeout: HEARTBEAT_SECONDS * 6,
    open(ws) {
      ws.data.helloTimer = setTimeout(() => ws.close(1008, "no hello"), HELLO_TIMEOUT_MS);
    },
    message(ws, message) {
      onMessage(ws, message).catch((error: Error) => {
        logger.error("relay.message_failed", { workspace_id: ws.data.workspaceId, error: error.message });
        ws.close(1011, "server error");
      });
    },
    close(ws, code, reason) {
      const data = ws.data;
      clearTimeout(data.helloTimer);
      settleAll(data, "the relay disconnected before answering; queries are read-only, so nothing was changed");
      const sessionId = data.sessionId;
      if (!sessionId) return;
      if (sockets.get(sessionId) === ws) sockets.delete(sessionId);
      logger.info("relay.disconnected", { workspace_id: data.workspaceId, session_id: sessionId, code });
      const closed = door(data.workspaceId, (tx) =>
        closeSession(tx, data.workspaceId, sessionId, reason || `code ${code}`),
      ).catch((error: Error) => logger.warn("relay.close_record_failed", { error: error.message }));
      closing.add(closed);
      void closed.finally(() => closing.delete(closed));
    },
  };

  /** Runs a query on a socket of this instance. */
  const local = (sessionId: string, frame: QueryMessage, waitMs: number): Promise<ResultFrame> => {
    const ws = sockets.get(sessionId);
    if (!ws) return Promise.resolve(failure(frame.id, "unavailable", "the relay is not connected"));
    if (ws.data.draining)
      return Promise.resolve(failure(frame.id, "unavailable", "the relay is shutting down and takes no new queries"));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.data.pending.delete(frame.id);
        resolve(failure(frame.id, "timeout", `the relay did not answer within ${Math.round(waitMs / 1000)} s`));
      }, waitMs);
      ws.data.pending.set(frame.id, { resolve, timer });
      send(ws, frame);
    });
  };

  /** A query handed to this instance by another: claim it, run it, write the answer back, say so. */
  const claim = async (workspaceId: string, id: string) => {
    const [row] = await door(workspaceId, (tx) =>
      tx.query<{ request: { frame: QueryMessage; wait_ms: number }; session_id: string }>(
        `update relay_queries set status = 'running' where workspace_id = $1 and id = $2 and status = 'pending'
            and target_instance = $3 and request is not null returning request, session_id`,
        [workspaceId, id, instanceId],
      ),
    );
    if (!row) return;
    const answer = await local(row.session_id, row.request.frame, row.request.wait_ms);
    await door(workspaceId, (tx) =>
      tx.query("update relay_queries set response = $3::jsonb, request = null where workspace_id = $1 and id = $2", [
        workspaceId,
        id,
        JSON.stringify(answer),
      ]),
    );
  };

  const claimLogged = (workspaceId: string, id: string) =>
    claim(workspaceId, id).catch((error: Error) =>
      logger.warn("relay.routed_query_failed", { workspace_id: workspaceId, query_id: id, error: error.message }),
    );

  /** Hands a query to the instance holding the relay's socket and waits for the answer it writes back. */
  const remote = async (workspaceId: string, frame: QueryMessage, waitMs: number) => {
    const id = frame.id;
    await door(workspaceId, (tx) =>
      tx.query("update relay_queries set request = $3::jsonb where workspace_id = $1 and id = $2", [
        workspaceId,
        id,
        JSON.stringify({ frame, wait_ms: waitMs }),
      ]),
    );
    const deadline = Date.now() + waitMs + 5_000;
    while (Date.now() < deadline) {
      const [row] = await door(workspaceId, (tx) =>
        tx.query<{ response: ResultFrame | null; status: string }>(
          "select response, status from relay_queries where workspace_id = $1 and id = $2",
          [workspaceId, id],
        ),
      );
      if (row?.response) return row.response;
      await Bun.sleep(POLL_MS);
    }
    // Nobody took it (the instance holding the socket is gone): it must not run later.
    await door(workspaceId, (tx) =>
      tx.query("update relay_queries set request = null where workspace_id = $1 and id = $2 and status = 'pending'", [
        workspaceId,
        id,
      ]),
    );
    return failure(id, "timeout", "the server instance holding the relay's connection did not answer in time");
  };

  return {
    instanceId,
    websocket,
    async upgrade(request, server, ip) {
      const requestId = request.headers.get("x-request-id") ?? newId("req");
      const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
      const parsed = bearer ? parseRelayToken(bearer) : undefined;
      if (!parsed) return problemResponse("unauthorized", RELAY_UNAUTHORIZED, requestId);
      const token = await door(parsed.workspaceId, async (tx) => {
        const found = await findRelayToken(tx, parsed.workspaceId, parsed.hash);
        if (found)
          await tx.query("update relay_tokens set last_used_at = now() where workspace_id = $1 and id = $2", [
            parsed.workspaceId,
            found.id,
          ]);
        return found;
      });
      if (!token) return problemResponse("unauthorized", RELAY_UNAUTHORIZED, requestId);
      const data: SocketData = {
        workspaceId: parsed.workspaceId,
        tokenId: token.id,
        tokenHash: parsed.hash,
        relayName: token.name,
        ip,
        userAgent: request.headers.get("user-agent")?.slice(0, 200) ?? undefined,
        draining: false,
        pending: new Map(),
      };
      if (server.upgrade(request, { data })) return undefined;
      return problemResponse("bad_request", "expected a WebSocket upgrade", requestId);
    },
    execute(workspaceId, session, frame, waitMs) {
      if (session.instance_id === instanceId || engine.kind === "pglite")
        return local(session.session_id, frame, waitMs);
      return remote(workspaceId, frame, waitMs);
    },
    connected: () => sockets.size,
    async start() {
      // A poll, not LISTEN: postgres.js's listening connection threw unhandled errors out of its own reconnect
      // while PostgreSQL restarted, which ended serve. The poll is one indexed query (pending rows only).
      pollTimer = setInterval(() => {
        engine
          .query<{ workspace_id: string; id: string }>("select * from relay_pending_queries($1, 20)", [instanceId])
          .then((rows) => {
            for (const row of rows) void claimLogged(row.workspace_id, row.id);
          })
          .catch(() => {});
      }, POLL_MS);
    },
    async stop() {
      clearInterval(pollTimer);
      for (const ws of sockets.values()) ws.close(1001, "server shutting down");
      // Bun runs close handlers on the next turn; then their session records are written.
      await Bun.sleep(50);
      await Promise.race([Promise.allSettled([...closing]), Bun.sleep(5_000)]);
    },
  };
}
