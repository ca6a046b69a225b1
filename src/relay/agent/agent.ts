// `causeloop relay`: the agent in the customer's network. It never listens on a port: it dials out to
// <server>/v1/relay/connect (wss:// with the server's certificate verified), offers its databases, and answers
// each query by checking it against the client's policy, running it read-only and masking the rows before
// they leave. Heartbeats both ways; a lost connection is redialled with exponential backoff and full jitter;
// SIGTERM stops taking queries, lets those in flight finish, then closes.
import type { Logger } from "../../log.ts";
import { VERSION } from "../../version.ts";
import { createMasker, type Masker } from "../masking/index.ts";
import { PROTOCOL_VERSION, type QueryMessage, type ResultFrame, parseServerFrame, ProtocolError } from "../protocol.ts";
import { type Executor, type RelayQuery, RelayRefusal } from "../types.ts";
import { RelayLog } from "./audit-log.ts";
import { RelayConfigError, type RelayConfig } from "./config.ts";
import { executorFor } from "./executors.ts";
import { relayHmacKey } from "./keys.ts";

export interface RunningRelay {
  /** Resolves once the first connection was welcomed. */
  connected: Promise<void>;
  stop(reason: string): Promise<void>;
  closed: Promise<void>;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const DRAIN_TIMEOUT_MS = 30_000;

/** Full jitter (AWS architecture blog): a random delay up to the capped exponential. */
export const backoffMs = (attempt: number, random = Math.random) =>
  Math.round(random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16)));

/** Masks what a reason could carry of the data (a database error can quote a value). */
function scrub(masker: Masker, text: string): string {
  const spans = masker.detect(text).sort((a, b) => b.start - a.start);
  let out = text;
  for (const s of spans) out = `${out.slice(0, s.start)}[REDACTED:${s.kind}]${out.slice(s.end)}`;
  return out.slice(0, 1900);
}

export async function startRelay(config: RelayConfig, logger: Logger): Promise<RunningRelay> {
  const executors = new Map<string, Executor>();
  for (const db of config.databases) executors.set(db.name, executorFor(db, config.limits.timeout_ms));
  // Start-up checks: a database role that could write, or one that cannot be reached, stops the relay here.
  for (const [name, executor] of executors) {
    try {
      const warnings = await executor.check();
      for (const warning of warnings) logger.warn("relay.database_warning", { database: name, detail: warning });
    } catch (error) {
      for (const each of executors.values()) await each.close().catch(() => {});
      throw new RelayConfigError(`database ${name}: ${(error as Error).message}`);
    }
  }
  const masker = createMasker(
    config.masking,
    relayHmacKey(config.hmac_key_file, process.env, config.masking.hmac_key_env),
  );
  const log = new RelayLog(config.audit_log);
  log.append({ event: "started", version: VERSION, databases: config.databases.map((d) => d.name) });

  const url = new URL("/v1/relay/connect", config.server);
  url.protocol = config.server.protocol === "https:" ? "wss:" : "ws:";
  let socket: WebSocket | undefined;
  let attempt = 0;
  let stopping = false;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let beatTimer: ReturnType<typeof setInterval> | undefined;
  let lastAck = Date.now();
  const inFlight = new Set<Promise<void>>();
  let markConnected: () => void = () => {};
  const connected = new Promise<void>((resolve) => {
    markConnected = resolve;
  });
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });

  const answer = async (ws: WebSocket, frame: QueryMessage) => {
    const started = performance.now();
    const executor = executors.get(frame.database);
    let result: ResultFrame;
    let fingerprint: string | null = null;
    let normalized: string | null = null;
    try {
      if (!executor) throw new RelayRefusal("invalid", `this relay offers no database named ${frame.database}`);
      const limits = {
        timeoutMs: Math.min(frame.limits.timeout_ms, config.limits.timeout_ms),
        maxRows: Math.min(frame.limits.max_rows, config.limits.max_rows),
        maxBytes: Math.min(frame.limits.max_bytes, config.limits.max_bytes),
      };
      const raw = await executor.run(frame.query as unknown as RelayQuery, limits);
      fingerprint = raw.fingerprint;
      normalized = raw.normalized;
      const { rows, masked } = masker.maskRows(raw.columns, raw.rows, {
        forcedMask: raw.forcedMask,
        table: raw.tables.length === 1 ? raw.tables[0] : undefined,
      });
      result = {
        v: PROTOCOL_VERSION,
        type: "result",
        id: frame.id,
        ok: true,
        result: { columns: raw.columns, rows, truncated: raw.truncated },
        meta: {
          tables: raw.tables,
          normalized,
          fingerprint,
          duration_ms: Math.round(performance.now() - started),
          row_count: rows.length,
          masked,
        },
      };
    } catch (error) {
      const refusal =
        error instanceof RelayRefusal
          ? error
          : new RelayRefusal("database", (error as Error).message || "query failed");
      result = {
        v: PROTOCOL_VERSION,
        type: "result",
        id: frame.id,
        ok: false,
        error: { code: refusal.code, reason: scrub(masker, refusal.reason) },
        meta: {
          tables: [],
          normalized,
          fingerprint,
          duration_ms: Math.round(performance.now() - started),
          row_count: 0,
          masked: { by_kind: {}, by_column: {} },
        },
      };
    }
    log.append({
      event: "query",
      query_id: frame.id,
      database: frame.database,
      requested_by: frame.requested_by,
      outcome: result.ok ? "succeeded" : result.error.code,
      reason: result.ok ? undefined : result.error.reason,
      fingerprint: result.meta?.fingerprint ?? null,
      normalized: result.meta?.normalized ?? null,
      tables: result.meta?.tables ?? [],
      row_count: result.meta?.row_count ?? 0,
      masked_by_kind: result.meta?.masked.by_kind ?? {},
      duration_ms: result.meta?.duration_ms ?? 0,
    });
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(result));
    else logger.warn("relay.answer_dropped", { query_id: frame.id, detail: "the connection closed before the answer" });
  };

  const schedule = () => {
    if (stopping) return;
    const delay = backoffMs(attempt++);
    logger.info("relay.reconnecting", { in_ms: delay, attempt });
    reconnectTimer = setTimeout(connect, delay);
  };

  let socketClosed: () => void = () => {};
  function connect() {
    const ws = new WebSocket(url.toString(), {
      headers: { authorization: `Bearer ${config.token}`, "user-agent": `causeloop-relay/${VERSION}` },
    } as unknown as string[]);
    socket = ws;
    ws.addEventListener("open", () => {
      ws.send(
        JSON.stringify({
          v: PROTOCOL_VERSION,
          type: "hello",
          agent_version: VERSION,
          databases: config.databases.map((d) => ({ name: d.name, kind: d.kind })),
        }),
      );
    });
    ws.addEventListener("message", (event) => {
      let frame: ReturnType<typeof parseServerFrame>;
      try {
        frame = parseServerFrame(event.data as string);
      } catch (error) {
        logger.warn("relay.protocol_error", { reason: error instanceof ProtocolError ? error.message : "malformed" });
        ws.close(1007, "malformed frame");
        return;
      }
      if (frame.type === "welcome") {
        attempt = 0;
        lastAck = Date.now();
        clearInterval(beatTimer);
        const every = frame.heartbeat_seconds * 1000;
        beatTimer = setInterval(() => {
          // Three beats without an answer: the server (or the path to it) is gone; dial again.
          if (Date.now() - lastAck > every * 3) {
            logger.warn("relay.heartbeat_lost", {});
            ws.close(4002, "heartbeat lost");
            return;
          }
          ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: "heartbeat", in_flight: inFlight.size }));
        }, every);
        log.append({ event: "connected", session_id: frame.session_id, server: config.server.origin });
        logger.info("relay.connected", {
          session_id: frame.session_id,
          relay: frame.relay_name,
          server: config.server.origin,
        });
        markConnected();
      } else if (frame.type === "heartbeat_ack") lastAck = Date.now();
      else {
        if (stopping) {
          const refusal = { code: "unavailable", reason: "the relay is shutting down and takes no new queries" };
          ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: "result", id: frame.id, ok: false, error: refusal }));
          return;
        }
        const work = answer(ws, frame).catch((error: Error) =>
          logger.error("relay.query_failed", { query_id: frame.id, error: error.message }),
        );
        inFlight.add(work);
        void work.finally(() => inFlight.delete(work));
      }
    });
    ws.addEventListener("close", (event) => {
      clearInterval(beatTimer);
      if (socket === ws) socket = undefined;
      socketClosed();
      if (stopping) return;
      logger.info("relay.disconnected", { code: event.code, reason: event.reason || undefined });
      log.append({ event: "disconnected", code: event.code });
      schedule();
    });
    ws.addEventListener("error", () => {
      // The close event follows with the details that exist (a refused token shows as a failed upgrade).
      logger.warn("relay.connection_error", { server: config.server.origin });
    });
  }

  connect();

  return {
    connected,
    closed,
    async stop(reason) {
      if (stopping) return closed;
      stopping = true;
      clearTimeout(reconnectTimer);
      logger.info("relay.stopping", { reason, in_flight: inFlight.size });
      const ws = socket;
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: "draining" }));
      await Promise.race([Promise.allSettled([...inFlight]), Bun.sleep(DRAIN_TIMEOUT_MS)]);
      clearInterval(beatTimer);
      if (ws && ws.readyState !== WebSocket.CLOSED) {
        const gone = new Promise<void>((resolve) => {
          socketClosed = resolve;
        });
        ws.close(1000, "relay stopping");
        await Promise.race([gone, Bun.sleep(2_000)]);
      }
      for (const executor of executors.values()) await executor.close().catch(() => {});
      log.append({ event: "stopped", reason });
      log.close();
      logger.info("relay.stopped", { reason });
      markClosed();
      return closed;
    },
  };
}
