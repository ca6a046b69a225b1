// /openapi.json: the routes as @elysiajs/openapi reads them (paths, parameters, request bodies), completed
// into the contract (src/http/contract.ts): shared components, every operation's answers, the bearer scheme.
import type { AnyElysia } from "elysia";
import { toOpenAPISchema } from "@elysiajs/openapi";
import { contractDocument } from "./contract.ts";

export function openApiDocument(app: AnyElysia, version: string): Record<string, unknown> {
  const { paths, components } = toOpenAPISchema(app, { staticFile: false }, undefined, undefined, "3.1.2");
  return contractDocument({
    openapi: "3.1.2",
    info: {
      title: "Causeloop API",
      version,
      description:
        "Multi-tenant incident intelligence with tenant isolation enforced by PostgreSQL row-level security. " +
        "Errors are application/problem+json (RFC 9457). Lists answer `{ data, next_cursor }`: pass `next_cursor` " +
        "as `cursor` for the next page.",
      license: { name: "Proprietary", url: "https://causeloop.dev/license" },
    },
    servers: [{ url: "/", description: "This server" }],
    // Every route needs a bearer credential unless it says `security: []` (sign-in, health, public keys, signed links).
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components.schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description:
            "A personal access token (clp_pat_...), a service-account token, or a session access token (JWT) from POST /v1/auth/login",
        },
        scimToken: {
          type: "http",
          scheme: "bearer",
          description: "A workspace's SCIM token (clp_scim_...) from POST /v1/scim-tokens; it reaches /scim/v2 only",
        },
        relayToken: {
          type: "http",
          scheme: "bearer",
          description: "A relay token (clp_relay_...) from POST /v1/relay-tokens; it reaches /v1/relay/connect only",
        },
        // GET /metrics exists only when the operator set a metrics token; its scheme is listed with it.
        ...(paths && "/metrics" in paths
          ? {
              metricsToken: {
                type: "http",
                scheme: "bearer",
                description: "The operator's CAUSELOOP_METRICS_TOKEN (not a user credential)",
              },
            }
          : {}),
      },
    },
  });
}
