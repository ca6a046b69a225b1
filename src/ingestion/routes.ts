// POST /v1/hooks/{path_token}: the receiving URL of an inbound webhook. Public (no bearer token): the caller
// proves itself with the webhook's signature over the raw body, which is why the body is read as text and
// parsed only after the signature holds.
import { Elysia, t } from "elysia";
import type { RequestContext } from "../audit/service.ts";
import type { TenantDoor } from "../db/tenant.ts";
import { responses } from "../http/contract.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { receiveHook } from "./receive.ts";
import { IngestResult } from "./schemas.ts";

/** Rate limits for a proven path token (the credential and its workspace), from the front door. */
export type Admit = (request: Request, workspaceId: string, credentialId: string) => Promise<void>;

export function hookRoutes(
  door: TenantDoor,
  kek: KekProvider,
  admit?: Admit,
  contextOf?: (request: Request) => RequestContext,
) {
  return new Elysia({ name: "ingestion" }).post(
    "/v1/hooks/:path_token",
    ({ params, request, body }) =>
      receiveHook(door, kek, params.path_token, request.headers, body, {
        admit: admit && ((workspaceId, credentialId) => admit(request, workspaceId, credentialId)),
        context: contextOf?.(request),
      }),
    {
      parse: "text",
      params: t.Object({
        path_token: t.String({ minLength: 1, maxLength: 200, description: "Shown once, in the URL" }),
      }),
      body: t.String({
        description:
          "The vendor's JSON payload as it sends it (Sentry, PagerDuty v3, Alertmanager, Datadog, Grafana, Opsgenie, GitHub workflow_run) or the generic JSON format; signed (see the README)",
      }),
      detail: {
        summary: "Receive events of an inbound webhook (signed; no bearer token)",
        tags: ["ingestion"],
        security: [],
        responses: responses({ 200: IngestResult }, [401, 403, 404]),
      },
    },
  );
}
