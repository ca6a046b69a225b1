// One JSON line per event on stdout. Messages pass through redact(): no email, token, password or URL secret.
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
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

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const min = ORDER[level];
  const log = (lvl: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    write(
      JSON.stringify({
        time: new Date().toISOString(),
        level: lvl,
        event,
        ...(clean(fields) as Record<string, unknown>),
      }),
    );
  };
  return {
    log,
    info: (event, fields) => log("info", event, fields),
    warn: (event, fields) => log("warn", event, fields),
    error: (event, fields) => log("error", event, fields),
  };
}

export const silentLogger: Logger = createLogger("error", () => {});
