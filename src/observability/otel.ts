// The OpenTelemetry SDK behind Tracing (./tracing.ts), loaded only when tracing is on: a tracer provider of this
// server's own (nothing registered globally), a batch processor, and the OTLP/HTTP exporter (protobuf or JSON).
// Span attributes are chosen, never copied from the request: no path, query string, header, token or email.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, type Context } from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import type { TracingSettings } from "../config.ts";
import type { Logger } from "../log.ts";
import { tracingStarted, within } from "./trace-context.ts";
import { tracedEngine } from "./traced-engine.ts";
import type { RequestOutcome, Tracing, TracingOptions } from "./tracing.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Attribute values past this are cut by the SDK (a long SQL statement, mostly). */
const ATTRIBUTE_LIMIT = 2048;
const EXPORT_WARNING_EVERY_MS = 60_000;

function samplerOf(settings: TracingSettings): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The exporter, telling the log (at most once a minute, never the headers) when the collector cannot be reached. */
function reportingExporter(inner: SpanExporter, logger: Logger, url: string): SpanExporter {
  let lastWarning = 0;
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      inner.export(spans, (result) => {
        const now = Date.now();
        if (result.code !== ExportResultCode.SUCCESS && now - lastWarning > EXPORT_WARNING_EVERY_MS) {
          lastWarning = now;
          logger.warn("tracing.export_failed", { url, spans: spans.length, error: result.error?.message });
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** The caller's trace context from `traceparent` alone (tracestate and baggage are ignored): a parent, nothing more. */
function callerContext(request: Request, propagator: W3CTraceContextPropagator): Context {
  const traceparent = request.headers.get("traceparent");
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

export function createTracing(settings: TracingSettings, options: TracingOptions): Tracing {
  const exporterOptions = { url: settings.url, headers: settings.headers, timeoutMillis: 10_000 };
  const exporter =
    settings.protocol === "http/json" ? new JsonExporter(exporterOptions) : new ProtobufExporter(exporterOptions);
  const provider = new TracerProvider({
    // telemetry.sdk.* from the SDK's default, then ours (service.name replaces its unknown_service).
    resource: defaultResource().merge(
      resourceFromAttributes({ "service.name": settings.serviceName, "service.version": options.version }),
    ),
    sampler: samplerOf(settings),
    spanLimits: { attributeValueLengthLimit: ATTRIBUTE_LIMIT },
    spanProcessors: [new BatchSpanProcessor({ exporter: reportingExporter(exporter, options.logger, settings.url) })],
  });
  const tracer = provider.getTracer("causeloop", options.version);
  const propagator = new W3CTraceContextPropagator();
  tracingStarted();

  return {
    async request(request, fn) {
      const method = METHODS.has(request.method) ? request.method : "_OTHER";
      const span = tracer.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: { "http.request.method": method } },
        callerContext(request, propagator),
      );
      const answered = ({ route, status, requestId, workspaceId }: RequestOutcome) => {
        if (!span.isRecording()) return;
        // A path no route serves is named by its method alone: its text is the client's, not ours.
        if (route !== "unmatched") {
          span.updateName(`${method} ${route}`);
          span.setAttribute("http.route", route);
        }
        span.setAttribute("http.response.status_code", status);
        span.setAttribute("causeloop.request_id", requestId);
        if (workspaceId) span.setAttribute("causeloop.workspace_id", workspaceId);
        if (status >= 500) {
          span.setAttribute("error.type", String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      };
      try {
        return await within(span, () => fn({ answered }));
      } catch (error) {
        span.setAttribute("error.type", error instanceof Error ? error.name : "unknown");
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
    engine: (engine) => tracedEngine(engine, tracer),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
