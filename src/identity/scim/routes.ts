// SCIM 2.0 over HTTP: /scim/v2 (Users, Groups and discovery), authenticated by the workspace's SCIM token
// only, every request one transaction through the tenant door; and /v1/scim-tokens, where an owner or admin
// issues, rotates and revokes those tokens. Answers are application/scim+json; errors are rewritten to the
// SCIM error schema by the front door (./errors.ts).
import { Elysia, t, type TSchema } from "elysia";
import { PageQuery, responses } from "../../http/contract.ts";
import type { TenantDoor } from "../../db/tenant.ts";
import { AppError } from "../../errors.ts";
import type { RequestContext } from "../../audit/service.ts";
import { requireInteractive, type authPlugin } from "../auth.ts";
import { parseToken } from "../tokens.ts";
import { resourceTypes, schemas, serviceProviderConfig } from "./discovery.ts";
import { SCIM_CONTENT_TYPE } from "./errors.ts";
import { createGroup, deleteGroup, GROUPS, replaceGroup } from "./groups.ts";
import { patchWith, type Json, type PatchOperation } from "./patch.ts";
import { project, readAll, readOne } from "./resources.ts";
import {
  CreatedScimToken,
  ScimDocument,
  ScimGroup,
  ScimGroupInput,
  ScimList,
  ScimListQuery,
  ScimPatchInput,
  ScimTokenPage,
  ScimUser,
  ScimUserInput,
} from "./schemas.ts";
import {
  createScimToken,
  listScimTokens,
  revokeScimToken,
  rotateScimToken,
  withScimToken,
  type ScimCaller,
} from "./tokens.ts";
import { createUser, deleteUser, replaceUser, USERS } from "./users.ts";

/** A transaction inside the tenant door (routes never import the engine). */
type Tx = Parameters<Parameters<TenantDoor>[1]>[0];

export interface ScimDeps {
  door: TenantDoor;
  contextOf: (request: Request) => RequestContext;
  /** Rate limits and request bookkeeping, as for every credential (throws 429 past them). */
  admitted?: (request: Request, caller: ScimCaller, door: TenantDoor) => Promise<void>;
}

const SECURITY = [{ scimToken: [] }];
const scimAnswer = (description: string, schema: TSchema) => ({
  description,
  schema,
  contentType: "application/scim+json",
});
const doc = (
  summary: string,
  success: Record<number, ReturnType<typeof scimAnswer> | null>,
  errors: number[] = [],
) => ({
  summary,
  tags: ["scim"],
  security: SECURITY,
  responses: responses(success, errors),
});
const Projection = t.Object({
  attributes: t.Optional(t.String({ maxLength: 1000 })),
  excludedAttributes: t.Optional(t.String({ maxLength: 1000 })),
});
const scimId = (prefix: string) => t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$` }) });

function reply(body: Json | null, status = 200, headers: Record<string, string> = {}): Response {
  if (body === null) return new Response(null, { status });
  return new Response(JSON.stringify(body), { status, headers: { "content-type": SCIM_CONTENT_TYPE, ...headers } });
}

export function scimRoutes(deps: ScimDeps) {
  const base = (request: Request) => `${new URL(request.url).origin}/scim/v2`;
  const run = <T>(request: Request, fn: (tx: Tx, caller: ScimCaller, base: string) => Promise<T>) =>
    withScimToken(
      deps.door,
      request.headers.get("authorization"),
      deps.contextOf(request),
      (tx, caller) => fn(tx, caller, base(request)),
      async (caller, door) => deps.admitted?.(request, caller, door),
    );
  const created = (resource: Json) => reply(resource, 201, { location: String((resource.meta as Json).location) });
  return (
    new Elysia({ name: "scim", prefix: "/scim/v2" })
      // Before the body is validated: a request without a SCIM token learns nothing about a route's shape.
      .onTransform(({ request }) => {
        const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
        if (!bearer || !parseToken("scim", bearer))
          throw new AppError("unauthorized", "missing, malformed or revoked SCIM token");
      })
      .get(
        "/ServiceProviderConfig",
        async ({ request }) => reply(await run(request, async (_tx, _c, b) => serviceProviderConfig(b))),
        {
          detail: doc("SCIM: what this service provider supports", {
            200: scimAnswer("The configuration", ScimDocument),
          }),
        },
      )
      .get("/ResourceTypes", async ({ request }) => reply(await run(request, async (_tx, _c, b) => resourceTypes(b))), {
        detail: doc("SCIM: the resource types (User, Group)", { 200: scimAnswer("The resource types", ScimList) }),
      })
      .get("/Schemas", async ({ request }) => reply(await run(request, async (_tx, _c, b) => schemas(b))), {
        detail: doc("SCIM: the schemas of users and groups", { 200: scimAnswer("The schemas", ScimList) }),
      })
      .get(
        "/Users",
        async ({ request, query }) => reply(await run(request, (tx, c, b) => readAll(tx, USERS, c, query, b))),
        {
          query: ScimListQuery,
          detail: doc("SCIM: list users (filter, startIndex, count)", {
            200: scimAnswer("A ListResponse of users", ScimList),
          }),
        },
      )
      .post(
        "/Users",
        async ({ request, body }) => created(await run(request, (tx, c, b) => createUser(tx, c, body as Json, b))),
        {
          parse: "json",
          body: ScimUserInput,
          detail: doc(
            "SCIM: provision a user (an account by email, and a membership in this workspace while active)",
            { 201: scimAnswer("The user", ScimUser) },
            [409],
          ),
        },
      )
      .get(
        "/Users/:id",
        async ({ request, params, query }) =>
          reply(await run(request, async (tx, c, b) => project(await readOne(tx, USERS, c, params.id, b), query))),
        {
          params: scimId("scu"),
          query: Projection,
          detail: doc("SCIM: a user", { 200: scimAnswer("The user", ScimUser) }),
        },
      )
      .put(
        "/Users/:id",
        async ({ request, params, body }) =>
          reply(await run(request, (tx, c, b) => replaceUser(tx, c, params.id, body as Json, b))),
        {
          parse: "json",
          params: scimId("scu"),
          body: ScimUserInput,
          detail: doc(
            "SCIM: replace a user (active=false deprovisions at once)",
            { 200: scimAnswer("The user", ScimUser) },
            [409],
          ),
        },
      )
      .patch(
        "/Users/:id",
        async ({ request, params, body }) =>
          reply(
            await run(request, (tx, c, b) =>
              patchWith(
                () => readOne(tx, USERS, c, params.id, b),
                (doc) => replaceUser(tx, c, params.id, doc, b),
                body.Operations as PatchOperation[],
              ),
            ),
          ),
        {
          parse: "json",
          params: scimId("scu"),
          body: ScimPatchInput,
          detail: doc(
            "SCIM: patch a user (add, replace, remove; active=false deprovisions at once)",
            { 200: scimAnswer("The user", ScimUser) },
            [409],
          ),
        },
      )
      .delete(
        "/Users/:id",
        async ({ request, params }) => {
          await run(request, (tx, c) => deleteUser(tx, c, params.id));
          return reply(null, 204);
        },
        {
          params: scimId("scu"),
          detail: doc(
            "SCIM: delete a user (deprovisions at once: membership, sessions and tokens)",
            { 204: null },
            [409],
          ),
        },
      )
      .get(
        "/Groups",
        async ({ request, query }) => reply(await run(request, (tx, c, b) => readAll(tx, GROUPS, c, query, b))),
        {
          query: ScimListQuery,
          detail: doc("SCIM: list groups (filter, startIndex, count)", {
            200: scimAnswer("A ListResponse of groups", ScimList),
          }),
        },
      )
      .post(
        "/Groups",
        async ({ request, body }) => created(await run(request, (tx, c, b) => createGroup(tx, c, body as Json, b))),
        {
          parse: "json",
          body: ScimGroupInput,
          detail: doc("SCIM: create a group (its members get its role)", { 201: scimAnswer("The group", ScimGroup) }),
        },
      )
      .get(
        "/Groups/:id",
        async ({ request, params, query }) =>
          reply(await run(request, async (tx, c, b) => project(await readOne(tx, GROUPS, c, params.id, b), query))),
        {
          params: scimId("scg"),
          query: Projection,
          detail: doc("SCIM: a group", { 200: scimAnswer("The group", ScimGroup) }),
        },
      )
      .put(
        "/Groups/:id",
        async ({ request, params, body }) =>
          reply(await run(request, (tx, c, b) => replaceGroup(tx, c, params.id, body as Json, b))),
        {
          parse: "json",
          params: scimId("scg"),
          body: ScimGroupInput,
          detail: doc("SCIM: replace a group", { 200: scimAnswer("The group", ScimGroup) }),
        },
      )
      .patch(
        "/Groups/:id",
        async ({ request, params, body }) =>
          reply(
            await run(request, (tx, c, b) =>
              patchWith(
                () => readOne(tx, GROUPS, c, params.id, b),
                (doc) => replaceGroup(tx, c, params.id, doc, b),
                body.Operations as PatchOperation[],
              ),
            ),
          ),
        {
          parse: "json",
          params: scimId("scg"),
          body: ScimPatchInput,
          detail: doc('SCIM: patch a group (members add/remove, `members[value eq "…"]`)', {
            200: scimAnswer("The group", ScimGroup),
          }),
        },
      )
      .delete(
        "/Groups/:id",
        async ({ request, params }) => {
          await run(request, (tx, c) => deleteGroup(tx, c, params.id));
          return reply(null, 204);
        },
        {
          params: scimId("scg"),
          detail: doc("SCIM: delete a group (its members' roles are re-computed)", { 204: null }),
        },
      )
  );
}

/** /v1/scim-tokens: an owner or admin issues (interactively), lists, rotates and revokes SCIM tokens. */
export function scimTokenRoutes(auth: ReturnType<typeof authPlugin>) {
  const tokenId = t.Object({ id: t.String({ pattern: "^sct_[0-9a-z]{26}$" }) });
  return new Elysia({ name: "scim-tokens" })
    .use(auth)
    .post(
      "/v1/scim-tokens",
      ({ caller, body, set }) => {
        requireInteractive(caller.principal, { recent: true });
        set.status = 201;
        return caller.tenant((tx) => createScimToken(tx, { ...caller.actor, role: caller.principal.role }, body));
      },
      {
        scope: "members:write",
        body: t.Object({ name: t.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        detail: {
          summary: "Create the workspace's SCIM token for /scim/v2 (shown once; owner or admin, interactive sign-in)",
          tags: ["scim"],
          responses: responses({ 201: CreatedScimToken }),
        },
      },
    )
    .get(
      "/v1/scim-tokens",
      ({ caller, query }) => caller.tenant((tx) => listScimTokens(tx, caller.principal.workspaceId, query)),
      {
        scope: "members:write",
        query: t.Object(PageQuery),
        detail: {
          summary: "List SCIM tokens (never their secrets)",
          tags: ["scim"],
          responses: responses({ 200: ScimTokenPage }),
        },
      },
    )
    .post(
      "/v1/scim-tokens/:id/rotate",
      ({ caller, params }) => {
        requireInteractive(caller.principal, { recent: true });
        return caller.tenant((tx) => rotateScimToken(tx, { ...caller.actor, role: caller.principal.role }, params.id));
      },
      {
        scope: "members:write",
        params: tokenId,
        detail: {
          summary: "Rotate a SCIM token: a new secret (shown once); the old one stops working at once",
          tags: ["scim"],
          responses: responses({ 200: CreatedScimToken }),
        },
      },
    )
    .delete(
      "/v1/scim-tokens/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => revokeScimToken(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "members:write",
        params: tokenId,
        detail: {
          summary: "Revoke a SCIM token (effective at once)",
          tags: ["scim"],
          responses: responses({ 204: null }),
        },
      },
    );
}
