// The engine as a traced request sees it: each transaction a `db.transaction` span, each statement in it a
// `db.query` child carrying the SQL text (never its parameters). Work outside a traced request (jobs, the
// scheduler, a request the sampler dropped) goes straight to the engine, with no span.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { Engine, Row, Tx } from "../db/engine.ts";
import { redact } from "../log.ts";
import { currentSpan, within } from "./trace-context.ts";

const DB = { "db.system.name": "postgresql" } as const;
/** Statements come from the code, a bounded set: each is normalized once. */
const STATEMENTS_KEPT = 1000;

/** One line, and redacted like a log line in case a statement was ever built with a value in it. */
function statementText(cache: Map<string, string>, text: string): string {
  let clean = cache.get(text);
  if (clean === undefined) {
    clean = redact(text.replace(/\s+/g, " ").trim());
    if (cache.size >= STATEMENTS_KEPT) cache.clear();
    cache.set(text, clean);
  }
  return clean;
}

/** Marks a failed span with the SQLSTATE (or the error's kind), never the message: it may quote row values. */
function failed(span: Span, error: unknown): void {
  const sqlstate = (error as { code?: unknown } | undefined)?.code;
  span.setAttribute(
    "error.type",
    typeof sqlstate === "string" ? sqlstate : error instanceof Error ? error.name : "rolled_back",
  );
  span.setStatus({ code: SpanStatusCode.ERROR });
}

async function ended<T>(span: Span, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export function tracedEngine(engine: Engine, tracer: Tracer): Engine {
  const statements = new Map<string, string>();
  const child = (parent: Span, name: string, sql?: string) =>
    tracer.startSpan(
      name,
      {
        kind: SpanKind.CLIENT,
        attributes: sql === undefined ? DB : { ...DB, "db.statement": statementText(statements, sql) },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
  /** The parent for new spans: the current one when it is recorded (an unsampled request gets no children). */
  const tracedParent = () => {
    const span = currentSpan();
    return span?.isRecording() ? span : undefined;
  };
  const tracedTx = (tx: Tx, span: Span): Tx => ({
    get db() {
      return tx.db;
    },
    query: <T = Row>(text: string, params?: unknown[]) =>
      ended(child(span, "db.query", text), tx.query<T>(text, params)),
    exec: (text: string) => ended(child(span, "db.query", text), tx.exec(text)),
    afterCommit: tx.afterCommit,
  });
  return {
    ...engine,
    query: <T = Row>(text: string, params?: unknown[]) => {
      const parent = tracedParent();
      if (!parent) return engine.query<T>(text, params);
      return ended(child(parent, "db.query", text), engine.query<T>(text, params));
    },
    transaction: <T>(fn: (tx: Tx) => Promise<T>) => {
      const parent = tracedParent();
      if (!parent) return engine.transaction(fn);
      const span = child(parent, "db.transaction");
      return ended(
        span,
        engine.transaction((tx) => within(span, () => fn(tracedTx(tx, span)))),
      );
    },
  };
}
