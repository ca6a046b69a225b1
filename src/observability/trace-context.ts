// The span of the request being answered, carried through its awaits by AsyncLocalStorage, for the spans of its
// database work and the trace_id of its log lines. Nothing here loads the OpenTelemetry SDK (./otel.ts does, only
// when tracing is on); until a tracer starts, readers answer from one boolean.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Span } from "@opentelemetry/api";

const current = new AsyncLocalStorage<Span>();
let started = false;

/** Called once a tracer exists in this process: from then on log lines look for a current span. */
export function tracingStarted(): void {
  started = true;
}

/** Runs fn with span as the current span (its children, and the trace_id of the log lines it writes). */
export function within<T>(span: Span, fn: () => T): T {
  return current.run(span, fn);
}

/** The span of the traced request this code runs for, if any. */
export function currentSpan(): Span | undefined {
  return started ? current.getStore() : undefined;
}

/** The trace id for a log line: only while a sampled request is being traced. */
export function traceIdForLog(): string | undefined {
  if (!started) return undefined;
  const context = current.getStore()?.spanContext();
  return context && context.traceFlags & 1 ? context.traceId : undefined;
}
