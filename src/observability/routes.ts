// GET /metrics on the API port: only when CAUSELOOP_METRICS_TOKEN is set (createApp mounts it then), and only
// with that token as a bearer credential. Not a tenant route: it names no workspace and reads no tenant row.
import { Elysia, t } from "elysia";
import { responses } from "../http/contract.ts";
import { AppError } from "../errors.ts";
import type { Metrics } from "./metrics.ts";
import { SCRAPE_REFUSED, scrapeAuthorizer } from "./scrape-auth.ts";

export function metricsRoutes(metrics: Metrics, token: string) {
  const authorized = scrapeAuthorizer(token);
  return new Elysia({ name: "metrics" }).get(
    "/metrics",
    async ({ request }) => {
      if (!authorized(request.headers.get("authorization"))) throw new AppError("unauthorized", SCRAPE_REFUSED);
      return new Response(await metrics.render(), {
        headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
      });
    },
    {
      detail: {
        summary: "Prometheus metrics of this instance (operators; needs the metrics token)",
        description:
          "Present only when CAUSELOOP_METRICS_TOKEN is set; send it as `Authorization: Bearer <token>` (not a user credential). " +
          "Request counts and durations by route template, rate-limit and authentication refusals, database pool, " +
          "tenant transaction durations, job queue depth and age, scheduler successes, unsigned audit events, process metrics.",
        tags: ["operations"],
        security: [{ metricsToken: [] }],
        responses: responses(
          {
            200: {
              description: "Prometheus text exposition format 0.0.4",
              contentType: "text/plain",
              schema: t.String(),
            },
          },
          [401],
        ),
      },
    },
  );
}
