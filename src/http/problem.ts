// RFC 9457 problem documents from the one error catalogue.
import { ERROR_CATALOGUE, type ErrorCode } from "../errors.ts";

export const PROBLEM_TYPE_BASE = "https://causeloop.dev/problems/";
/** Retry-After of every 503 answer. */
export const RETRY_AFTER_SECONDS = 5;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  request_id: string;
  [extra: string]: unknown;
}

export function problemBody(
  code: ErrorCode,
  detail: string,
  requestId: string,
  extra: Record<string, unknown> = {},
): Problem {
  const entry = ERROR_CATALOGUE[code];
  return {
    ...extra,
    type: `${PROBLEM_TYPE_BASE}${code.replaceAll("_", "-")}`,
    title: entry.title,
    status: entry.status,
    detail,
    code,
    request_id: requestId,
  };
}

export function problemResponse(
  code: ErrorCode,
  detail: string,
  requestId: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response {
  const body = problemBody(code, detail, requestId, extra);
  // RFC 9110 Retry-After (delay-seconds) for clients that never read the body: a throttle says how long; a 503
  // is temporary by definition (database down, not ready yet).
  const retryAfter: Record<string, string> =
    code === "rate_limited" && typeof extra.retry_after === "number" && extra.retry_after > 0
      ? { "retry-after": String(Math.ceil(extra.retry_after)) }
      : body.status === 503
        ? { "retry-after": String(RETRY_AFTER_SECONDS) }
        : {};
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { "content-type": "application/problem+json", "x-request-id": requestId, ...retryAfter, ...headers },
  });
}
