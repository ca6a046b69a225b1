// The front door's checks of a request before any route sees it: the body's size (with or without
// Content-Length), its media type, its nesting depth, and validation messages that name the field.
import { problemResponse } from "./problem.ts";
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from "./input-guard.ts";

export const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/**
 * A body without Content-Length (chunked) is read up to the limit here, so the limit holds for every request;
 * returns undefined when it is over.
 */
export async function withKnownLength(request: Request, limit: number): Promise<Request | undefined> {
  if (!BODY_METHODS.has(request.method) || request.headers.has("content-length") || !request.body) return request;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const headers = new Headers(request.headers);
  headers.set("content-length", String(size));
  return new Request(request.url, { method: request.method, headers, body: Buffer.concat(chunks) });
}

/** The declared body size, checked before anything is read. */
export function rejectEarly(request: Request, requestId: string, limit: number): Response | undefined {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(length) && length > limit) {
    return problemResponse(
      "payload_too_large",
      `the request body is ${length} bytes; the limit is ${limit}`,
      requestId,
      { limit_bytes: limit },
    );
  }
  return undefined;
}

/**
 * JSON nested deeper than any request needs is refused before it is parsed (like the size limit, it is about
 * the bytes, so it applies to every route alike, before authentication).
 */
export async function rejectDeepJson(request: Request, requestId: string): Promise<Response | undefined> {
  if (!BODY_METHODS.has(request.method) || !request.body) return undefined;
  // A clone is read, so the original (still tied to its socket, e.g. for the client's address) goes on.
  const bytes = new Uint8Array(await request.clone().arrayBuffer());
  if (!jsonNestsDeeperThan(bytes, MAX_JSON_DEPTH)) return undefined;
  return problemResponse(
    "validation_failed",
    `the request body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep`,
    requestId,
  );
}

/** The SAML assertion consumer service: the IdP's HTTP-POST binding is a browser form post, not JSON. */
export const FORM_POST_ROUTE = /^\/v1\/auth\/sso\/[^/]+\/acs$/;

/** Request bodies are JSON (a form only where a standard binding says so): anything else is 415 before parsing. */
export function rejectMediaType(request: Request, requestId: string): Response | undefined {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (BODY_METHODS.has(request.method) && length > 0) {
    const type = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    const form = type === "application/x-www-form-urlencoded" && FORM_POST_ROUTE.test(new URL(request.url).pathname);
    if (type !== "application/json" && !type?.endsWith("+json") && !form) {
      return problemResponse(
        "unsupported_media_type",
        `request bodies must be application/json (got ${type || "no content type"})`,
        requestId,
      );
    }
  }
  return undefined;
}

const PARTS = new Set(["body", "query", "params", "headers"]);

export function validationDetail(error: unknown): string {
  const { all, type } = error as { all?: { path?: string; message?: string; summary?: string }[]; type?: unknown };
  if (Array.isArray(all) && all.length) {
    return all
      .slice(0, 5)
      .map(
        (e) =>
          `${e.path || (typeof type === "string" && PARTS.has(type) ? type : "request")}: ${e.summary ?? e.message ?? "invalid"}`,
      )
      .join("; ");
  }
  return "the request does not match the expected shape";
}
