// One line per event on stdout: JSON, or (on a terminal, CAUSELOOP_LOG_FORMAT) readable text with the same
// fields. Every field passes through redact(): no email, token, password or URL secret, in either format.
import { traceIdForLog } from "./observability/trace-context.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** Whether a line at this level would be written (so a caller on the hot path can skip building it). */
  enabled?(level: LogLevel): boolean;
}

const PATTERNS: [RegExp, string][] = [
  [/([a-z][a-z0-9+.-]*:\/\/[^:\s/@]+):[^@\s/]+@/gi, "$1:***@"],
  [/[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}/gi, "<email>"],
  [/\bclp_[a-z]+_[A-Za-z0-9_-]{8,}/g, "<token>"],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, "<jwt>"],
  [/(password|secret|token|authorization)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, "$1$2***"],
];

/** Whatever any pattern below could match contains one of these. */
const MAYBE_SECRET = /[@:]|clp_|eyJ|password|secret|token|authorization/i;

/** Removes secrets and personal data from free text before it is logged or shown. */
export function redact(text: string): string {
  // Most strings (ids, routes, statuses) hold nothing to redact: one test instead of five replacements.
  if (!MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

function clean(value: unknown): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map(clean);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clean(v)]));
  }
  return value;
}

export type LogFormat = "json" | "text";

/** CAUSELOOP_LOG_FORMAT: `auto` is text when stdout is a terminal (a person reading), JSON otherwise. */
export function resolveLogFormat(setting: "auto" | LogFormat, stdoutIsTerminal: boolean): LogFormat {
  if (setting !== "auto") return setting;
  return stdoutIsTerminal ? "text" : "json";
}

/** A value as text: bare when it is a plain word, else quoted and escaped (no control character reaches a terminal). */
function textValue(value: unknown): string {
  if (typeof value === "string") return /^[\w.:/@+,%#-]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** `time LEVEL event key=value ...`: the JSON line's fields in order, for a person at a terminal. */
export function textLine(record: Record<string, unknown>): string {
  const { time, level, event, ...fields } = record;
  const parts = [String(time), String(level).toUpperCase().padEnd(5), String(event)];
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) parts.push(`${key}=${textValue(value)}`);
  return parts.join(" ");
}

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  format: LogFormat = "json",
): Logger {
  const min = ORDER[level];
  const log = (lvl: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level: lvl,
      event,
      ...(clean(fields) as Record<string, unknown>),
    };
    // While a traced request is answered, its lines carry the trace id (the request id is already a field).
    const traceId = traceIdForLog();
    if (traceId) record.trace_id = traceId;
    write(format === "text" ? textLine(record) : JSON.stringify(record));
  };
  return {
    log,
    info: (event, fields) => log("info", event, fields),
    warn: (event, fields) => log("warn", event, fields),
    error: (event, fields) => log("error", event, fields),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}

export const silentLogger: Logger = createLogger("error", () => {});
