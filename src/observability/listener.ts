// The metrics listener (CAUSELOOP_METRICS_ADDR): a socket of its own, outside the API's front door, serving
// GET /metrics and nothing else, so a private scrape network never needs the API port (or the API the scrape).
import { problemResponse } from "../http/problem.ts";
import { newId } from "../ids.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";
import { SCRAPE_REFUSED, scrapeAuthorizer } from "./scrape-auth.ts";

export interface MetricsListener {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Listens on host:port (0: a free port); with a token, a scrape must present it as a bearer credential. */
export function startMetricsListener(
  address: { host: string; port: number },
  metrics: Metrics,
  options: { token?: string; logger: Logger },
): MetricsListener {
  const authorized = options.token ? scrapeAuthorizer(options.token) : () => true;
  const server = Bun.serve({
    hostname: address.host,
    port: address.port,
    development: false,
    maxRequestBodySize: 1024,
    async fetch(request) {
      const requestId = newId("req");
      const path = new URL(request.url).pathname;
      if (path !== "/metrics") return problemResponse("not_found", `no route for ${request.method} ${path}`, requestId);
      if (request.method !== "GET" && request.method !== "HEAD")
        return problemResponse(
          "method_not_allowed",
          `${request.method} is not allowed on /metrics`,
          requestId,
          { allowed: ["GET", "HEAD"] },
          { allow: "GET, HEAD" },
        );
      if (!authorized(request.headers.get("authorization"))) {
        metrics.authFailed("metrics_token");
        return problemResponse("unauthorized", SCRAPE_REFUSED, requestId);
      }
      try {
        const body = await metrics.render();
        return new Response(request.method === "HEAD" ? null : body, {
          headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
        });
      } catch (error) {
        options.logger.error("metrics.render_failed", { error: (error as Error).message });
        return problemResponse("internal", `the metrics could not be rendered; request id ${requestId}`, requestId);
      }
    },
  });
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  const port = server.port ?? address.port;
  return { url: `http://${host}:${port}/metrics`, port, stop: () => server.stop(true) };
}
