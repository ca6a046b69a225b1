// What every answer carries for browsers and proxies: security headers (nosniff, no referrer, a strict
// Content-Security-Policy, HSTS when the client reached us over TLS), `Cache-Control: no-store` on anything
// answered to a credential, and CORS for the origins the operator allows (CAUSELOOP_CORS_ORIGINS): preflights
// answered here with 204, `Vary: Origin` always, an unknown origin gets no CORS header at all. Credentials are
// bearer tokens, never cookies, so `Access-Control-Allow-Credentials` is never sent (and `*` is safe to allow).

/** The API answers JSON only: nothing may be framed, scripted or loaded from it. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** /docs: Scalar's bundle and the contract from this server only; its styles are inline. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const HSTS = "max-age=31536000; includeSubDomains";

const ALLOWED_METHODS = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id";
const EXPOSED_HEADERS = [
  "X-Request-Id",
  "Retry-After",
  "RateLimit",
  "RateLimit-Policy",
  "X-RateLimit-Limit",
  "X-RateLimit-Remaining",
  "X-RateLimit-Reset",
  "Idempotent-Replayed",
  "X-Content-SHA256",
].join(", ");

export interface CorsPolicy {
  /** Exact origins (scheme://host[:port]) allowed to call the API from a browser; `*` for any. */
  origins: ReadonlySet<string>;
}

/** Parses CAUSELOOP_CORS_ORIGINS: comma-separated origins, or `*`. Throws a one-line reason on a bad entry. */
export function parseCorsOrigins(raw: string | undefined): CorsPolicy {
  const origins = new Set<string>();
  for (const entry of (raw ?? "").split(",").map((e) => e.trim())) {
    if (!entry) continue;
    if (entry === "*") {
      origins.add("*");
      continue;
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new Error(`'${entry}' is not an origin (scheme://host[:port])`);
    }
    if (!["http:", "https:"].includes(url.protocol) || url.origin !== entry.replace(/\/$/, ""))
      throw new Error(`'${entry}' is not an origin (scheme://host[:port], no path)`);
    origins.add(url.origin);
  }
  return { origins };
}

function allowedOrigin(policy: CorsPolicy, origin: string | null): string | undefined {
  if (!origin) return undefined;
  if (policy.origins.has("*")) return "*";
  return policy.origins.has(origin) ? origin : undefined;
}

/** A CORS preflight (OPTIONS with Access-Control-Request-Method), answered without reaching a route. */
export function preflight(request: Request, policy: CorsPolicy): Response | undefined {
  if (request.method !== "OPTIONS" || !request.headers.get("access-control-request-method")) return undefined;
  const headers = new Headers({ vary: "Origin", "cache-control": "no-store" });
  const origin = allowedOrigin(policy, request.headers.get("origin"));
  if (origin) {
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-allow-methods", ALLOWED_METHODS);
    headers.set("access-control-allow-headers", ALLOWED_HEADERS);
    headers.set("access-control-max-age", "600");
  }
  return new Response(null, { status: 204, headers });
}

export interface Transport {
  /** The client reached us over TLS: natively, or through a trusted proxy that says so (X-Forwarded-Proto). */
  secure: boolean;
}

/** Adds the security, caching and CORS headers to an answer (in place; returns it). */
export function decorate(
  response: Response,
  request: Request,
  policy: CorsPolicy,
  transport: Transport,
  path: string = pathnameOf(request.url),
): Response {
  const headers = response.headers;
  const docs = path === "/docs" || path.startsWith("/docs/");
  headers.set("x-content-type-options", "nosniff");
  headers.set("referrer-policy", "no-referrer");
  headers.set("x-frame-options", "DENY");
  headers.set("content-security-policy", docs ? DOCS_CSP : API_CSP);
  if (transport.secure) headers.set("strict-transport-security", HSTS);
  if (request.headers.has("authorization") || !headers.has("cache-control")) headers.set("cache-control", "no-store");
  headers.append("vary", "Origin");
  const origin = allowedOrigin(policy, request.headers.get("origin"));
  if (origin) {
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", EXPOSED_HEADERS);
  }
  return response;
}

/** The path of an absolute request URL, without the cost of a full URL parse (it runs several times a request). */
export function pathnameOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.search(/[?#]/);
  return end < 0 || end < start ? url.slice(start) : url.slice(start, end);
}
