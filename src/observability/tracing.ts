// OpenTelemetry traces (issue 19): off unless an OTLP endpoint is configured (TracingSettings in src/config.ts).
// This is all the rest of the code sees: what a tracer does for the front door and the engine. The SDK and the
// exporter live in ./otel.ts, imported only by startTracing, so a server without tracing never loads them and
// its request path pays one `if` per request.
import type { TracingSettings } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import type { Logger } from "../log.ts";

/** What the front door tells the request's span once the answer is known. */
export interface RequestOutcome {
  /** The route template that served it (`/v1/issues/:id`), or `unmatched`. */
  route: string;
  status: number;
  requestId: string;
  workspaceId?: string;
}

export interface RequestSpan {
  answered(outcome: RequestOutcome): void;
}

export interface Tracing {
  /**
   * Runs one request under a server span, the current span for everything it awaits; a valid incoming W3C
   * `traceparent` is its parent (the caller's trace goes on) and is used for nothing else.
   */
  request<T>(request: Request, fn: (span: RequestSpan) => Promise<T>): Promise<T>;
  /** The engine with spans for the transactions (`db.transaction`) and queries (`db.query`) of traced requests. */
  engine(engine: Engine): Engine;
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  version: string;
  /** Told (at most once a minute) when an export fails. */
  logger: Logger;
}

/** Loads the SDK and starts a tracer exporting to settings.url. */
export async function startTracing(settings: TracingSettings, options: TracingOptions): Promise<Tracing> {
  const { createTracing } = await import("./otel.ts");
  return createTracing(settings, options);
}
