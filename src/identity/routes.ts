// /v1/me: who the caller is, in which workspace, with which role and scopes.
import { Elysia } from "elysia";
import type { authPlugin } from "./auth.ts";

export function meRoutes(auth: ReturnType<typeof authPlugin>) {
  return new Elysia({ name: "me" }).use(auth).get(
    "/v1/me",
    ({ caller }) =>
      caller.tenant(async (tx) => {
        const { principal } = caller;
        const [workspace] = await tx.query<{ id: string; slug: string; name: string; organization_id: string }>(
          "select id, slug, name, organization_id from workspaces where id = $1",
          [principal.workspaceId],
        );
        const [user] = principal.actorType === "user" ? await tx.query<{ id: string; email: string; display_name: string | null }>("select id, email, display_name from users where id = $1", [principal.actorId]) : [];
        return {
          actor: { id: principal.actorId, type: principal.actorType, email: user?.email ?? null, display_name: user?.display_name ?? null },
          workspace,
          role: principal.role,
          scopes: [...principal.scopes].sort(),
          token_id: principal.tokenId,
        };
      }),
    { scope: "authenticated", detail: { summary: "The caller, its workspace, role and scopes", tags: ["identity"] } },
  );
}
