// The composition root of the HTTP API: every dependency comes in through createApp(), every capability's
// routes are mounted here, and every request passes the same front door (request id, limits, errors, log).
import { Elysia, type AnyElysia } from "elysia";
import { isAppError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { newId } from "../ids.ts";
import { problemResponse } from "./problem.ts";
import { clientAddress, parseTrustedProxies, reachedOverTls, type TrustedProxies } from "./client-ip.ts";
import { decorate, parseCorsOrigins, pathnameOf, preflight, type CorsPolicy } from "./edge/headers.ts";
import { refusal, setRateLimitHeaders, type Limiter, type Verdict } from "./edge/rate-limit.ts";
import { withIdempotency } from "./edge/idempotency.ts";
import { assertStorableInput } from "./input-guard.ts";
import { rejectDeepJson, rejectEarly, rejectMediaType, validationDetail, withKnownLength } from "./request-checks.ts";
import { mapDatabaseError, redactedMessage } from "./database-errors.ts";
import { healthRoutes, type BackupsProbe, type ReadinessProbe } from "../health/routes.ts";
import { docsRoutes } from "./docs.ts";
import { openApiDocument } from "./openapi.ts";
import type { HeldTenant, TenantDoor } from "../db/tenant.ts";
import { authPlugin } from "../identity/auth.ts";
import { identityRoutes, publicAuthRoutes } from "../identity/routes.ts";
import { scimRoutes, scimTokenRoutes } from "../identity/scim/routes.ts";
import { accessReviewRoutes } from "../identity/access-review-routes.ts";
import { asScimError, isScimPath } from "../identity/scim/errors.ts";
import type { SessionDeps } from "../identity/sessions.ts";
import type { GlobalIdp } from "../identity/exchange.ts";
import { issueRoutes, issueWriteInOneTransaction } from "../issues/routes.ts";
import { integrationRoutes } from "../integrations/routes.ts";
import { hookRoutes } from "../ingestion/routes.ts";
import { ssoConnectionRoutes } from "../identity/sso/routes.ts";
import { ssoSignInRoutes } from "../identity/sso/sign-in-routes.ts";
import { deliveryRoutes } from "../delivery/routes.ts";
import { securityAlertRoutes } from "../security/routes.ts";
import { governanceRoutes } from "../governance/routes.ts";
import { exportDownloadRoutes, gdprAliasRoutes, type ExportDeps, type RtbfDeps } from "../governance/routes.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { auditRoutes } from "../audit/routes.ts";
import { tenancyRoutes } from "../tenancy/routes.ts";
import type { Signer } from "../audit/signing.ts";
import { outboundPolicy, type OutboundPolicy } from "../net/policy.ts";
import { intelligenceRoutes } from "../intelligence/routes.ts";
import { relayRoutes } from "../relay/routes.ts";
import type { RelayHub } from "../relay/hub/hub.ts";
import { runWithOutbound } from "../net/context.ts";
import type { HttpMetrics } from "../observability/metrics.ts";
import type { RequestAlerts } from "../security/request-rules.ts";
import { routeLabeller, routePattern, withoutIds } from "../observability/route-label.ts";
import type { RequestSpan, Tracing } from "../observability/tracing.ts";

export interface AppDeps {
  logger: Logger;
  /** The tenant door: protected routes reach data only through it. Without it only public routes exist. */
  door?: TenantDoor;
  /** The master key ring: protected routes seal and open secrets with workspace keys wrapped by it. */
  kek?: KekProvider;
  /** Sessions: login, refresh, MFA (needs the JWT keys and an anonymous transaction). */
  sessions?: Omit<SessionDeps, "door" | "kek"> & { globalIdp?: GlobalIdp };
  /** The audit signing key: checkpoints, the public key endpoints. */
  signer?: Signer;
  /** Exports: signed download links and the archive store. */
  exports?: ExportDeps;
  /** Erasure requests: the HMAC key and certificate signer, and the approval that runs the erasure. */
  rtbf?: RtbfDeps;
  /** Extra capability plugins (one Elysia instance per capability), mounted under the front door. */
  capabilities?: AnyElysia[];
  /** The SSRF guard's policy for user-given URLs (webhooks, SSO key sets); default: no allowlist. */
  outbound?: OutboundPolicy;
  /** The API's public base URL (CAUSELOOP_PUBLIC_URL); without it the single sign-on flows answer 404. */
  publicUrl?: string;
  readiness: ReadinessProbe;
  /** The backups' staleness, reported by /readyz (never making it unready). */
  backups?: BackupsProbe;
  version: string;
  bodyLimitBytes: number;
  /** Peers whose forwarding headers name the client; without it the socket's peer is the client. */
  trustedProxies?: TrustedProxies;
  /** Browser origins allowed to call the API (CAUSELOOP_CORS_ORIGINS); none by default. */
  cors?: CorsPolicy;
  /** The server terminates TLS itself (serve --tls-cert): every answer carries HSTS. */
  tls?: boolean;
  /** Requests handled at once; beyond it a fast 503 with Retry-After (the probes are always answered). */
  maxInFlight?: number;
  /** How long an Idempotency-Key's answer is kept (CAUSELOOP_IDEMPOTENCY_TTL_HOURS). */
  idempotencyTtlHours?: number;
  /** Rate limits; without them nothing is limited (tests that do not test limits). */
  limits?: RateLimits;
  /** Request, rate-limit and authentication counters (src/observability/); the route is a capability. */
  metrics?: HttpMetrics;
  /** The alert rules over the request stream (rate-limit refusals, 404 bursts per credential). */
  requestAlerts?: RequestAlerts;
  /** OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT): a server span per request; none without it. */
  tracing?: Tracing;
  /** The relay hub (serve): queries through relays reach it; without it they answer 503 relay_unavailable. */
  relayHub?: RelayHub;
}

/** What the front door needs to know of a proven credential: its workspace and its id (for its own limit). */
interface Credential {
  workspaceId: string;
  tokenId: string;
}

export interface RateLimits {
  limiter: Limiter;
  /** Requests per minute of one credential (a token or a session). */
  perCredential: number;
  /** Requests per minute of one workspace, all credentials together, unless the workspace has its own. */
  perWorkspace: number;
  /** Requests per minute from one client address without a credential, and to the sign-in routes. */
  perAddress: number;
  /** The workspace's own budget, when it has one (cached by the caller), read through the request's door. */
  workspaceLimit?: (workspaceId: string, door: TenantDoor) => Promise<number | undefined>;
  /** Forgets a workspace's cached budget (it just changed). */
  forget?: (workspaceId: string) => void;
}

/** The defaults of CAUSELOOP_RATE_LIMIT_* (README), for apps built without limits. */
export const DEFAULT_LIMITS = { perCredential: 1000, perWorkspace: 5000, perAddress: 300 };

/** Answered even past the in-flight limit: a load balancer must see the instance alive and ready. */
const PROBES = new Set(["/healthz", "/readyz"]);
/** Answered under any load and never limited: the probes and the documentation. */
const UNLIMITED = new Set(["/healthz", "/readyz", "/openapi.json", "/docs", "/docs/init.js", "/docs/scalar.js"]);

export interface RequestMeta {
  requestId: string;
  workspaceId?: string;
  /** The authenticated credential (token or session id), for the request-stream alert rules. */
  credentialId?: string;
  /** The rate-limit policies this request was counted against (their fields go on the answer). */
  verdicts?: Verdict[];
  /** A read's (or a one-transaction write's) transaction, held from authentication until the route has answered. */
  held?: HeldTenant;
  /** The client's address (the socket's peer, or what a trusted proxy forwarded). */
  ip?: string;
}

export interface HttpApp {
  readonly elysia: Elysia;
  /** Handles one request through the whole front door; tests call it without opening a socket. */
  /** `peer` is the socket's remote address (serve passes it; tests calling the app directly may not). */
  fetch(request: Request, peer?: string): Promise<Response>;
  /** Requests in flight (graceful shutdown waits for them). */
  inFlight(): number;
  /** Requests refused with 503 `overloaded` since start (past the in-flight limit). */
  overloaded(): number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** 401s of the sign-in routes and the metrics scrape, by route template; elsewhere it is the credential's fault. */
const AUTH_FAILURES: Record<string, string> = {
  "/v1/auth/login": "login_failed",
  "/v1/auth/mfa/verify": "mfa_failed",
  "/v1/auth/refresh": "refresh_rejected",
  "/v1/auth/logout": "logout_rejected",
  "/v1/auth/accept-invite": "invite_rejected",
  "/v1/auth/exchange": "exchange_rejected",
  "/v1/auth/sso/:id/start": "sso_rejected",
  "/v1/auth/sso/:id/callback": "sso_rejected",
  "/v1/auth/sso/:id/acs": "sso_rejected",
  "/metrics": "metrics_token",
  "/v1/hooks/:path_token": "hook_signature",
};

/**
 * Why a request was answered 401, from a fixed list (a bounded label): the route that refused it, or whether a
 * credential was missing, not even a bearer token, or refused (unknown, expired and revoked stay one reason,
 * as the answer itself does not tell them apart).
 */
export function authFailureReason(route: string, authorization: string | null): string {
  const known = AUTH_FAILURES[route];
  if (known) return known;
  if (!authorization) return "credential_missing";
  return /^Bearer\s+\S+\s*$/i.test(authorization) ? "credential_rejected" : "credential_malformed";
}

export function createApp(deps: AppDeps): HttpApp {
  const meta = new WeakMap<Request, RequestMeta>();
  const requestIdOf = (request: Request) => meta.get(request)?.requestId ?? "unknown";
  const clientIpOf = (request: Request) => meta.get(request)?.ip;
  const trustedProxies = deps.trustedProxies ?? parseTrustedProxies("");
  const cors = deps.cors ?? parseCorsOrigins("");

  const outbound = deps.outbound ?? outboundPolicy();
  const protectedRoutes: AnyElysia[] = [];
  // What the audit rows of a route's changes say of its request (trace id, address, agent).
  const contextOf = (request: Request) => ({
    traceId: requestIdOf(request),
    ip: clientIpOf(request),
    userAgent: request.headers.get("user-agent") ?? undefined,
  });
  /**
   * A proven credential (a token, a session, an inbound webhook's path token): the front door notes the workspace
   * for its log, and the credential's and the workspace's rate limits apply (429 past them).
   */
  const admit = async (request: Request, workspaceId: string, credentialId: string, door: TenantDoor) => {
    const info = meta.get(request);
    if (info) {
      info.workspaceId = workspaceId;
      info.credentialId = credentialId;
    }
    const limits = deps.limits;
    if (!limits || !info) return;
    const write = request.method !== "GET" && request.method !== "HEAD";
    const own = await limits.workspaceLimit?.(workspaceId, door);
    const verdicts = [
      await limits.limiter.take("credential", credentialId, limits.perCredential, write),
      await limits.limiter.take("workspace", workspaceId, own ?? limits.perWorkspace, write),
    ];
    info.verdicts = [...(info.verdicts ?? []), ...verdicts];
    const refused = verdicts.find((v) => !v.allowed);
    if (refused) throw refusal(refused);
  };
  /** A proven credential (a token, a session, a SCIM token): noted for the log, then its rate limits applied. */
  const admitted = (request: Request, who: Credential, door: TenantDoor) =>
    admit(request, who.workspaceId, who.tokenId, door);
  if (deps.door) {
    const door = deps.door;
    const auth = authPlugin({
      door: deps.door,
      jwt: deps.sessions?.jwt,
      requestId: requestIdOf,
      clientIp: clientIpOf,
      hold: (request, held) => {
        const info = meta.get(request);
        if (info) info.held = held;
        else void held.finish(false);
      },
      holdWrite: (request) =>
        !request.headers.has("idempotency-key") && issueWriteInOneTransaction(request.method, request.url),
      authenticated: admitted,
    });
    const sessionDeps = deps.sessions && deps.kek ? { ...deps.sessions, door: deps.door, kek: deps.kek } : undefined;
    protectedRoutes.push(
      identityRoutes(auth, deps.kek, sessionDeps),
      issueRoutes(auth),
      intelligenceRoutes(auth),
      securityAlertRoutes(auth),
      governanceRoutes(auth, deps.rtbf, deps.exports),
      gdprAliasRoutes(auth),
    );
    if (deps.exports) protectedRoutes.push(exportDownloadRoutes(deps.exports));
    protectedRoutes.push(scimTokenRoutes(auth), scimRoutes({ door: deps.door, contextOf, admitted }));
    protectedRoutes.push(relayRoutes(auth, deps.door, deps.relayHub));
    if (deps.sessions && deps.kek) {
      protectedRoutes.push(
        publicAuthRoutes({ ...deps.sessions, door: deps.door, kek: deps.kek }, contextOf, deps.sessions.globalIdp),
        ssoSignInRoutes({ ...deps.sessions, door: deps.door, kek: deps.kek, publicUrl: deps.publicUrl }, contextOf),
      );
    }
    if (deps.kek)
      protectedRoutes.push(
        integrationRoutes(auth, deps.kek, outbound),
        deliveryRoutes(auth, deps.kek, outbound),
        hookRoutes(
          door,
          deps.kek,
          (request, workspaceId, credentialId) => admit(request, workspaceId, credentialId, door),
          contextOf,
        ),
        ssoConnectionRoutes(
          auth,
          deps.kek,
          outbound,
          deps.sessions ? { ...deps.sessions, door: deps.door, kek: deps.kek, publicUrl: deps.publicUrl } : undefined,
        ),
      );
    if (deps.signer)
      protectedRoutes.push(auditRoutes(auth, deps.signer, deps.door), accessReviewRoutes(auth, deps.signer));
    protectedRoutes.push(
      tenancyRoutes(auth, {
        perWorkspace: deps.limits?.perWorkspace ?? DEFAULT_LIMITS.perWorkspace,
        perCredential: deps.limits?.perCredential ?? DEFAULT_LIMITS.perCredential,
        changed: (workspaceId) => deps.limits?.forget?.(workspaceId),
      }),
    );
  }

  let contract: Record<string, unknown> | undefined;
  let documented: AnyElysia | undefined;
  const elysia = new Elysia({ normalize: true })
    .onError({ as: "global" }, ({ code, error, request }) => {
      const requestId = requestIdOf(request);
      if (isAppError(error)) return problemResponse(error.code, error.message, requestId, error.extra);
      switch (code) {
        case "PARSE":
          return problemResponse("invalid_json", "the request body is not valid JSON", requestId);
        case "VALIDATION":
          return problemResponse("validation_failed", validationDetail(error), requestId);
        case "NOT_FOUND": {
          const url = new URL(request.url);
          const allowed = allowedMethods(url.pathname);
          if (allowed.length) {
            return problemResponse(
              "method_not_allowed",
              `${request.method} is not allowed on ${url.pathname}`,
              requestId,
              { allowed },
              { allow: allowed.join(", ") },
            );
          }
          return problemResponse("not_found", `no route for ${request.method} ${url.pathname}`, requestId);
        }
        default:
          return unexpected(error, requestId);
      }
    })
    // After authentication (transform) and schema validation: no string PostgreSQL cannot store goes further.
    .onBeforeHandle({ as: "global" }, ({ body, query, params }) => {
      assertStorableInput("query", query);
      assertStorableInput("path", params);
      assertStorableInput("body", body);
    })
    .get("/openapi.json", () => (contract ??= openApiDocument(documented as AnyElysia, deps.version)), {
      detail: { hide: true },
    })
    .use(docsRoutes())
    .use(healthRoutes(deps.readiness, deps.version, deps.backups))
    .use(
      [...protectedRoutes, ...(deps.capabilities ?? [])].reduce(
        (group, plugin) => group.use(plugin),
        new Elysia({ name: "capabilities" }),
      ),
    );

  documented = elysia;

  /** A database failure we can attribute becomes a 4xx/503 (still logged: a 22xxx means a validation is missing); anything else a 500. */
  function unexpected(error: unknown, requestId: string): Response {
    const mapped = mapDatabaseError(error);
    if (mapped) {
      const level = mapped.error.code === "database_unreachable" ? "error" : "warn";
      deps.logger[level]("request.database_error", {
        request_id: requestId,
        sqlstate: mapped.code,
        error: redactedMessage(error),
      });
      return problemResponse(mapped.error.code, mapped.error.message, requestId);
    }
    deps.logger.error("request.failed", {
      request_id: requestId,
      error: (error as Error)?.message ?? String(error),
      stack: (error as Error)?.stack,
    });
    return problemResponse(
      "internal",
      `an unexpected error occurred; quote request id ${requestId} to the operator`,
      requestId,
    );
  }

  let compiled: { method: string; pattern: RegExp }[] | undefined;
  function allowedMethods(pathname: string): string[] {
    compiled ??= elysia.routes.map((r) => ({ method: r.method, pattern: routePattern(r.path) }));
    const methods = new Set(compiled.filter((r) => r.pattern.test(pathname)).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  }

  /** Requests without a credential, and every sign-in route, count against the client address's budget. */
  async function limitByAddress(request: Request, info: RequestMeta): Promise<Response | undefined> {
    const limits = deps.limits;
    if (!limits) return undefined;
    const path = pathnameOf(request.url);
    if (UNLIMITED.has(path) || request.method === "OPTIONS") return undefined;
    if (request.headers.has("authorization") && !path.startsWith("/v1/auth/")) return undefined;
    // An inbound webhook's path token is its credential: its own and its workspace's budgets apply instead
    // (one Alertmanager sends a whole storm from one address).
    if (path.startsWith("/v1/hooks/")) return undefined;
    const write = request.method !== "GET" && request.method !== "HEAD";
    try {
      const verdict = await limits.limiter.take("address", info.ip ?? "unknown", limits.perAddress, write);
      info.verdicts = [verdict];
      if (verdict.allowed) return undefined;
      const refused = refusal(verdict);
      return problemResponse(refused.code, refused.message, info.requestId, refused.extra);
    } catch (error) {
      if (isAppError(error)) return problemResponse(error.code, error.message, info.requestId, error.extra);
      throw error;
    }
  }

  /** Commits a read's held transaction after a success (rolls back otherwise) before the answer leaves. */
  async function settle(info: RequestMeta, response: Response, requestId: string): Promise<Response> {
    const held = info.held;
    if (!held) return response;
    info.held = undefined;
    try {
      await held.finish(response.status < 400);
      return response;
    } catch (error) {
      return unexpected(error, requestId);
    }
  }

  /** Idempotency-Key on POST and PATCH (needs the door and the key ring: the kept answers are sealed). */
  async function idempotent(request: Request, run: () => Promise<Response>): Promise<Response> {
    if (!deps.door || !deps.kek || !request.headers.has("idempotency-key")) return run();
    const body = request.body ? await request.clone().text() : undefined;
    return withIdempotency(
      { door: deps.door, kek: deps.kek, ttlHours: deps.idempotencyTtlHours ?? 24 },
      request,
      body,
      run,
    );
  }

  const routeOf = routeLabeller(() => elysia.routes.map((r) => r.path));
  /** Counts the answer (route template, 429 policy, 401 reason) and names the request's span; nothing that waits. */
  function record(
    request: Request,
    path: string,
    response: Response,
    info: RequestMeta,
    started: number,
    span: RequestSpan | undefined,
  ): void {
    const alerts = deps.requestAlerts;
    if (alerts && info.workspaceId && info.credentialId && (response.status === 429 || response.status === 404)) {
      const template = withoutIds(path);
      if (response.status === 429)
        alerts.observe("rate_limited_credential", info.workspaceId, info.credentialId, template);
      else if (template !== path) alerts.observe("cross_tenant_probing", info.workspaceId, info.credentialId, template);
    }
    const metrics = deps.metrics;
    if (!metrics && !span) return;
    const route = routeOf(path);
    span?.answered({ route, status: response.status, requestId: info.requestId, workspaceId: info.workspaceId });
    if (!metrics) return;
    metrics.request(request.method, route, response.status, (performance.now() - started) / 1000);
    if (response.status === 429)
      metrics.rateLimited(info.verdicts?.find((v) => !v.allowed)?.policy ?? "failed_attempts");
    else if (response.status === 401)
      metrics.authFailed(authFailureReason(route, request.headers.get("authorization")));
  }

  let inFlight = 0;
  let refusedForLoad = 0;
  function fetch(request: Request, peer?: string): Promise<Response> {
    const tracing = deps.tracing;
    return tracing ? tracing.request(request, (span) => answer(request, peer, span)) : answer(request, peer);
  }

  async function answer(request: Request, peer: string | undefined, span?: RequestSpan): Promise<Response> {
    const started = performance.now();
    const supplied = request.headers.get("x-request-id");
    const requestId = supplied && REQUEST_ID.test(supplied) ? supplied : newId("req");
    const info: RequestMeta = { requestId, ip: clientAddress(peer, request.headers, trustedProxies) };
    let response: Response;
    if (inFlight >= (deps.maxInFlight ?? Number.POSITIVE_INFINITY) && !PROBES.has(new URL(request.url).pathname)) {
      // Past this instance's capacity: a fast, cheap refusal instead of an unbounded queue.
      refusedForLoad++;
      response = problemResponse(
        "overloaded",
        "the server is at capacity; retry after the time in Retry-After",
        requestId,
      );
      response.headers.set("x-request-id", requestId);
      record(request, pathnameOf(request.url), response, info, started, span);
      return decorate(response, request, cors, { secure: deps.tls ?? false });
    }
    inFlight++;
    try {
      const early =
        preflight(request, cors) ??
        (await limitByAddress(request, info)) ??
        rejectEarly(request, requestId, deps.bodyLimitBytes);
      const sized = early ? undefined : await withKnownLength(request, deps.bodyLimitBytes);
      if (sized) meta.set(sized, info);
      const unsupported = sized ? rejectMediaType(sized, requestId) : undefined;
      const tooDeep = sized && !unsupported ? await rejectDeepJson(sized, requestId) : undefined;
      response =
        early ??
        unsupported ??
        tooDeep ??
        (sized
          ? await idempotent(sized, async () =>
              settle(info, await runWithOutbound(outbound, () => elysia.handle(sized)), requestId),
            )
          : problemResponse(
              "payload_too_large",
              `the request body is over the limit of ${deps.bodyLimitBytes} bytes`,
              requestId,
              { limit_bytes: deps.bodyLimitBytes },
            ));
    } catch (error) {
      response = isAppError(error)
        ? problemResponse(error.code, error.message, requestId, error.extra)
        : unexpected(error, requestId);
    } finally {
      inFlight--;
      // A held read transaction the route did not get to settle (an error escaped): never leave it open.
      if (info.held) await info.held.finish(false).catch(() => {});
      info.held = undefined;
    }
    const path = pathnameOf(request.url);
    if (isScimPath(path)) response = await asScimError(response);
    response.headers.set("x-request-id", requestId);
    if (info.verdicts) setRateLimitHeaders(response.headers, info.verdicts);
    decorate(
      response,
      request,
      cors,
      { secure: reachedOverTls(peer, request.headers, trustedProxies, deps.tls ?? false) },
      path,
    );
    if (deps.logger.enabled?.("info") !== false)
      deps.logger.info("request", {
        method: request.method,
        route: withoutIds(path),
        status: response.status,
        duration_ms: Math.round((performance.now() - started) * 100) / 100,
        request_id: requestId,
        workspace_id: info.workspaceId,
      });
    record(request, path, response, info, started, span);
    return response;
  }

  return { elysia: elysia as unknown as Elysia, fetch, inFlight: () => inFlight, overloaded: () => refusedForLoad };
}
