// The one error catalogue. Services throw AppError with a code from here; the HTTP layer renders it as
// RFC 9457 problem+json and the CLI as one line with the catalogue's exit code.

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, title: "Bad request", exit: 2 },
  invalid_json: { status: 400, title: "Malformed JSON body", exit: 2 },
  validation_failed: { status: 422, title: "Validation failed", exit: 2 },
  unauthorized: { status: 401, title: "Authentication required", exit: 2 },
  forbidden: { status: 403, title: "Forbidden", exit: 2 },
  workspace_disabled: { status: 403, title: "Workspace disabled", exit: 2 },
  not_found: { status: 404, title: "Not found", exit: 4 },
  gone: { status: 410, title: "Gone", exit: 4 },
  method_not_allowed: { status: 405, title: "Method not allowed", exit: 2 },
  conflict: { status: 409, title: "Conflict", exit: 3 },
  already_exists: { status: 409, title: "Already exists", exit: 3 },
  payload_too_large: { status: 413, title: "Payload too large", exit: 2 },
  unsupported_media_type: { status: 415, title: "Unsupported media type", exit: 2 },
  rate_limited: { status: 429, title: "Too many requests", exit: 2 },
  internal: { status: 500, title: "Internal server error", exit: 1 },
  not_ready: { status: 503, title: "Service not ready", exit: 1 },
  database_unreachable: { status: 503, title: "Database unreachable", exit: 2 },
  overloaded: { status: 503, title: "Server overloaded", exit: 2 },
  data_dir_locked: { status: 503, title: "Data directory in use", exit: 2 },
  migration_failed: { status: 500, title: "Migration failed", exit: 1 },
  migration_drift: { status: 500, title: "Applied migration changed or missing", exit: 1 },
  schema_behind: { status: 503, title: "Database schema is behind the binary", exit: 2 },
  insecure_role: { status: 500, title: "Runtime role bypasses row-level security", exit: 2 },
  config_invalid: { status: 500, title: "Invalid configuration", exit: 2 },
  query_refused: { status: 422, title: "Query refused", exit: 2 },
  relay_unavailable: { status: 503, title: "Relay not available", exit: 2 },
  relay_timeout: { status: 504, title: "Relay did not answer in time", exit: 2 },
} as const satisfies Record<string, { status: number; title: string; exit: number }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class AppError extends Error {
  override name = "AppError";
  readonly code: ErrorCode;
  /** Extra, safe-to-show members of the problem document (never secrets). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, detail: string, extra?: Record<string, unknown>) {
    super(detail);
    this.code = code;
    this.extra = extra;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  get exitCode(): number {
    return ERROR_CATALOGUE[this.code].exit;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
