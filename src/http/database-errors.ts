// The last line of defence between a database error and a 500: input PostgreSQL refused (SQLSTATE class 22,
// data exceptions) is the caller's 422, an unreachable database is a 503 the caller may retry. Anything else
// stays a 500. The front door logs every mapped error too, so a missing validation is still seen and fixed.
import { AppError } from "../errors.ts";

// Connection-level failures of postgres.js and the OS, and the server's own "going away" states.
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovering)
  "53300", // too_many_connections
]);

export interface MappedDatabaseError {
  error: AppError;
  /** The SQLSTATE or connection code, for the log line. */
  code: string;
}

export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The caller-facing error for a database failure, or undefined when it is not one we can attribute. */
export function mapDatabaseError(error: unknown): MappedDatabaseError | undefined {
  const code = sqlstateOf(error);
  if (!code) return undefined;
  if (UNREACHABLE_CODES.has(code) || code.startsWith("08")) {
    return {
      code,
      error: new AppError("database_unreachable", "the database is unreachable right now; retry shortly"),
    };
  }
  if (/^22[0-9A-Z]{3}$/.test(code)) {
    return {
      code,
      error: new AppError(
        "validation_failed",
        `a value in the request cannot be stored or compared (SQLSTATE ${code}); check dates, numbers and text for out-of-range or invalid characters`,
      ),
    };
  }
  return undefined;
}

/** A database message without the values it quotes (they may be a caller's email or token). */
export function redactedMessage(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .replace(/"[^"]*"/g, '"…"')
    .slice(0, 300);
}
