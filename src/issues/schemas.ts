// The issue routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";
import { ISSUE_SEVERITIES, ISSUE_STATUSES } from "./service.ts";

export const Issue = component(
  "Issue",
  t.Object({
    id: t.String({ examples: ["iss_01jd0000000000000000000000"] }),
    workspace_id: t.String(),
    title: t.String({ examples: ["Checkout latency above 2 s"] }),
    body: t.String(),
    status: t.Union(ISSUE_STATUSES.map((s) => t.Literal(s))),
    severity: t.Union(ISSUE_SEVERITIES.map((s) => t.Literal(s))),
    source: Nullable(
      t.String({
        description: "The source of the events that opened it (sentry, pagerduty, ...); null when made through the API",
      }),
    ),
    reporter_email: Nullable(t.String()),
    created_by: Nullable(t.String()),
    cluster_id: Nullable(t.String({ description: "The cluster of the events that opened it (see /v1/clusters)" })),
    resolution: Nullable(
      t.String({ description: "What resolved it: recommended for the next issue of the same problem" }),
    ),
    first_seen_at: t.String({
      format: "date-time",
      description: "Its first event (its creation, for an issue made through the API)",
    }),
    last_seen_at: t.String({ format: "date-time", description: "Its latest event" }),
    resolved_at: Nullable(t.String({ format: "date-time" })),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export const IssuePage = component("IssuePage", Page(Issue));

export const ActivityEvent = component(
  "ActivityEvent",
  t.Object({
    id: t.String({ examples: ["act_01jd0000000000000000000000"] }),
    issue_id: Nullable(t.String()),
    kind: t.String({
      description:
        "issue.created, issue.updated, issue.deleted (changes through the API); event.firing, event.resolved (ingested events)",
      examples: ["event.firing"],
    }),
    actor_type: t.String({ examples: ["user", "integration"] }),
    actor_id: Nullable(t.String({ description: "The user, or the inbound webhook, that caused it" })),
    payload: t.Record(t.String(), t.Unknown()),
    created_at: Timestamp,
  }),
);
export const ActivityPage = component("ActivityPage", Page(ActivityEvent));
