// /v1/issues: create, list (cursor pagination, filters), get, update, soft delete.
import { Elysia, t } from "elysia";
import type { authPlugin } from "../identity/auth.ts";
import {
  ISSUE_SEVERITIES,
  ISSUE_STATUSES,
  createIssue,
  deleteIssue,
  getIssue,
  listIssues,
  updateIssue,
} from "./service.ts";
import { PageQuery, responses } from "../http/contract.ts";
import { ActivityPage, Issue, IssuePage } from "./schemas.ts";
import { listActivity } from "./activity.ts";

const Status = t.Union(ISSUE_STATUSES.map((s) => t.Literal(s)));
const Severity = t.Union(ISSUE_SEVERITIES.map((s) => t.Literal(s)));
const Email = t.String({ format: "email", maxLength: 254 });
const IssueId = t.Object({ id: t.String({ pattern: "^iss_[0-9a-z]{26}$", description: "An issue id (iss_...)" }) });

const ONE_ISSUE = /^\/v1\/issues\/[^/]+$/;

/**
 * The issue writes whose whole work is one tenant transaction (create, update, delete: the row, its audit
 * event, its activity and its outbox events, nothing outside the database before the commit), so the
 * credential check joins that transaction (src/identity/auth.ts holdWrite): one BEGIN and COMMIT, not two.
 */
export function issueWriteInOneTransaction(method: string, url: string): boolean {
  if (method !== "POST" && method !== "PATCH" && method !== "DELETE") return false;
  const path = new URL(url).pathname;
  return method === "POST" ? path === "/v1/issues" : ONE_ISSUE.test(path);
}

export function issueRoutes(auth: ReturnType<typeof authPlugin>) {
  return new Elysia({ name: "issues", prefix: "/v1/issues" })
    .use(auth)
    .post(
      "",
      ({ caller, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => createIssue(tx, caller.actor, body));
      },
      {
        scope: "issues:write",
        body: t.Object(
          {
            title: t.String({ minLength: 1, maxLength: 300 }),
            body: t.Optional(t.String({ maxLength: 100_000 })),
            status: t.Optional(Status),
            severity: t.Optional(Severity),
            reporter_email: t.Optional(t.Union([Email, t.Null()])),
          },
          { additionalProperties: false },
        ),
        detail: { summary: "Create an issue", tags: ["issues"], responses: responses({ 201: Issue }) },
      },
    )
    .get("", ({ caller, query }) => caller.tenant((tx) => listIssues(tx, caller.principal.workspaceId, query)), {
      scope: "issues:read",
      query: t.Object({
        status: t.Optional(Status),
        severity: t.Optional(Severity),
        created_after: t.Optional(t.String()),
        created_before: t.Optional(t.String()),
        limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
        cursor: t.Optional(t.String({ maxLength: 200 })),
      }),
      detail: {
        summary: "List issues, newest first (cursor pagination)",
        tags: ["issues"],
        responses: responses({ 200: IssuePage }),
      },
    })
    .get("/:id", ({ caller, params }) => caller.tenant((tx) => getIssue(tx, caller.principal.workspaceId, params.id)), {
      scope: "issues:read",
      params: IssueId,
      detail: { summary: "Get an issue", tags: ["issues"], responses: responses({ 200: Issue }) },
    })
    .get(
      "/:id/activity",
      ({ caller, params, query }) =>
        caller.tenant(async (tx) => {
          await getIssue(tx, caller.principal.workspaceId, params.id);
          return listActivity(tx, caller.principal.workspaceId, params.id, query);
        }),
      {
        scope: "issues:read",
        params: IssueId,
        query: t.Object(PageQuery),
        detail: {
          summary: "An issue's timeline, newest first: ingested events and changes made to it",
          tags: ["issues"],
          responses: responses({ 200: ActivityPage }),
        },
      },
    )
    .patch(
      "/:id",
      ({ caller, params, body }) => caller.tenant((tx) => updateIssue(tx, caller.actor, params.id, body)),
      {
        scope: "issues:write",
        params: IssueId,
        body: t.Object(
          {
            title: t.Optional(t.String({ minLength: 1, maxLength: 300 })),
            body: t.Optional(t.String({ maxLength: 100_000 })),
            status: t.Optional(Status),
            severity: t.Optional(Severity),
            reporter_email: t.Optional(t.Union([Email, t.Null()])),
            resolution: t.Optional(t.Union([t.String({ minLength: 1, maxLength: 10_000 }), t.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        detail: { summary: "Update an issue", tags: ["issues"], responses: responses({ 200: Issue }) },
      },
    )
    .delete(
      "/:id",
      async ({ caller, params, set }) => {
        await caller.tenant((tx) => deleteIssue(tx, caller.actor, params.id));
        set.status = 204;
        return null;
      },
      {
        scope: "issues:write",
        params: IssueId,
        detail: { summary: "Delete an issue (soft delete)", tags: ["issues"], responses: responses({ 204: null }) },
      },
    );
}
