// /v1/workspace/rate-limit: the workspace's own API budget. Members with settings:read see it; only an owner
// changes it (an admin could otherwise lift the limit that protects the workspace from its own tokens).
import { Elysia, t } from "elysia";
import type { authPlugin } from "../identity/auth.ts";
import { AppError } from "../errors.ts";
import { component, Nullable, responses } from "../http/contract.ts";
import { setWorkspaceRateLimit, workspaceRateLimit } from "./limits.ts";

const RateLimit = component(
  "WorkspaceRateLimit",
  t.Object({
    per_minute: Nullable(t.Integer({ description: "The workspace's own budget; null: the server's default" })),
    effective_per_minute: t.Integer({ description: "What applies now, to all the workspace's credentials together" }),
    per_credential_per_minute: t.Integer({ description: "Each token or session's own budget (server setting)" }),
  }),
);

export interface LimitDefaults {
  perWorkspace: number;
  perCredential: number;
  /** Called after a change so the front door's cache forgets the old budget at once. */
  changed?: (workspaceId: string) => void;
}

export function tenancyRoutes(auth: ReturnType<typeof authPlugin>, defaults: LimitDefaults) {
  const view = (own: { per_minute: number | null }) => ({
    per_minute: own.per_minute,
    effective_per_minute: own.per_minute ?? defaults.perWorkspace,
    per_credential_per_minute: defaults.perCredential,
  });
  return new Elysia({ name: "tenancy" })
    .use(auth)
    .get(
      "/v1/workspace/rate-limit",
      async ({ caller }) => view(await caller.tenant((tx) => workspaceRateLimit(tx, caller.principal.workspaceId))),
      {
        scope: "settings:read",
        detail: {
          summary: "The workspace's API budget (requests per minute) and each credential's",
          tags: ["settings"],
          responses: responses({ 200: RateLimit }),
        },
      },
    )
    .patch(
      "/v1/workspace/rate-limit",
      async ({ caller, body }) => {
        if (caller.principal.role !== "owner")
          throw new AppError("forbidden", "only an owner changes the workspace's rate limit", {
            reason: "owner_required",
          });
        const own = await caller.tenant((tx) => setWorkspaceRateLimit(tx, caller.actor, body.per_minute));
        defaults.changed?.(caller.principal.workspaceId);
        return view(own);
      },
      {
        scope: "settings:write",
        body: t.Object(
          { per_minute: Nullable(t.Integer({ minimum: 1, maximum: 10_000_000 })) },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Set the workspace's API budget (owners only); null returns to the server's default",
          tags: ["settings"],
          responses: responses({ 200: RateLimit }),
        },
      },
    );
}
