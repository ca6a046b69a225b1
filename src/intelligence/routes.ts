// /v1/clusters, /v1/patterns, /v1/predictions, /v1/recommendations: what the intelligence engine found, and
// the engineers' corrections and feedback. Each has its read and write scope; all of it is workspace data
// reached through the tenant door.
import { Elysia, t } from "elysia";
import { PageQuery, responses } from "../http/contract.ts";
import type { authPlugin } from "../identity/auth.ts";
import { getCluster, listClusters, mergeClusters, pinToCluster, splitCluster } from "./clusters.ts";
import { requestRefresh } from "./insights.ts";
import {
  Cluster,
  ClusterPage,
  CorrectedCluster,
  InsightsRefresh,
  Pattern,
  PatternPage,
  Prediction,
  PredictionPage,
  Recommendation,
  RecommendationPage,
} from "./schemas.ts";
import {
  getPattern,
  getPrediction,
  getRecommendation,
  listPatterns,
  listPredictions,
  listRecommendations,
  patternFeedback,
  recommendationFeedback,
} from "./views.ts";

const id = (prefix: string, what: string) =>
  t.Object({ id: t.String({ pattern: `^${prefix}_[0-9a-z]{26}$`, description: `A ${what} id (${prefix}_...)` }) });
const ClusterId = id("clu", "cluster");
const Match = t.String({
  minLength: 1,
  maxLength: 4096,
  description: "A message (exactly that message) or a template with <*> for its variable parts",
});

export function intelligenceRoutes(auth: ReturnType<typeof authPlugin>) {
  const tag = (name: string) => ({ tags: [name] });
  return new Elysia({ name: "intelligence" })
    .use(auth)
    .get(
      "/v1/clusters",
      ({ caller, query }) => caller.tenant((tx) => listClusters(tx, caller.principal.workspaceId, query)),
      {
        scope: "clusters:read",
        query: t.Object({
          ...PageQuery,
          service: t.Optional(t.String({ maxLength: 200 })),
          q: t.Optional(t.String({ maxLength: 200, description: "Text the template contains" })),
        }),
        detail: {
          summary: "List clusters, newest first",
          ...tag("clusters"),
          responses: responses({ 200: ClusterPage }),
        },
      },
    )
    .get(
      "/v1/clusters/:id",
      ({ caller, params }) => caller.tenant((tx) => getCluster(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "clusters:read",
        params: ClusterId,
        detail: { summary: "Get a cluster", ...tag("clusters"), responses: responses({ 200: Cluster }) },
      },
    )
    .post(
      "/v1/clusters/:id/merge",
      ({ caller, params, body }) => caller.tenant((tx) => mergeClusters(tx, caller.actor, params.id, body.from)),
      {
        scope: "clusters:write",
        params: ClusterId,
        body: t.Object({ from: ClusterId.properties.id }, { additionalProperties: false }),
        detail: {
          summary: "Merge another cluster into this one (remembered for later events)",
          ...tag("clusters"),
          responses: responses({ 200: Cluster }),
        },
      },
    )
    .post(
      "/v1/clusters/:id/pin",
      ({ caller, params, body }) => caller.tenant((tx) => pinToCluster(tx, caller.actor, params.id, body.match)),
      {
        scope: "clusters:write",
        params: ClusterId,
        body: t.Object({ match: Match }, { additionalProperties: false }),
        detail: {
          summary: "Assign the events matching a message or template to this cluster, stored and later ones",
          ...tag("clusters"),
          responses: responses({ 200: CorrectedCluster }),
        },
      },
    )
    .post(
      "/v1/clusters/split",
      ({ caller, body, set }) => {
        set.status = 201;
        return caller.tenant((tx) => splitCluster(tx, caller.actor, body.match));
      },
      {
        scope: "clusters:write",
        body: t.Object({ match: Match }, { additionalProperties: false }),
        detail: {
          summary: "Split the events matching a message or template into a cluster of their own",
          ...tag("clusters"),
          responses: responses({ 201: CorrectedCluster }),
        },
      },
    )
    .get(
      "/v1/patterns",
      ({ caller, query }) => caller.tenant((tx) => listPatterns(tx, caller.principal.workspaceId, query)),
      {
        scope: "patterns:read",
        query: t.Object({
          ...PageQuery,
          status: t.Optional(t.Union(["candidate", "active", "dismissed", "archived"].map((s) => t.Literal(s)))),
          kind: t.Optional(t.String({ maxLength: 40 })),
          cluster_id: t.Optional(ClusterId.properties.id),
        }),
        detail: { summary: "List recurrence patterns", ...tag("patterns"), responses: responses({ 200: PatternPage }) },
      },
    )
    .get(
      "/v1/patterns/:id",
      ({ caller, params }) => caller.tenant((tx) => getPattern(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "patterns:read",
        params: id("pmt", "pattern"),
        detail: {
          summary: "Get a pattern with its evidence",
          ...tag("patterns"),
          responses: responses({ 200: Pattern }),
        },
      },
    )
    .post(
      "/v1/patterns/:id/feedback",
      ({ caller, params, body }) => caller.tenant((tx) => patternFeedback(tx, caller.actor, params.id, body.decision)),
      {
        scope: "patterns:write",
        params: id("pmt", "pattern"),
        body: t.Object(
          { decision: t.Union([t.Literal("confirm"), t.Literal("dismiss")]) },
          { additionalProperties: false },
        ),
        detail: { summary: "Confirm or dismiss a pattern", ...tag("patterns"), responses: responses({ 200: Pattern }) },
      },
    )
    .get(
      "/v1/predictions",
      ({ caller, query }) => caller.tenant((tx) => listPredictions(tx, caller.principal.workspaceId, query)),
      {
        scope: "predictions:read",
        query: t.Object({
          ...PageQuery,
          outcome: t.Optional(t.Union([t.Literal("pending"), t.Literal("hit"), t.Literal("miss")])),
          cluster_id: t.Optional(ClusterId.properties.id),
        }),
        detail: {
          summary: "List predictions of next occurrences, with the workspace's hit rate",
          ...tag("predictions"),
          responses: responses({ 200: PredictionPage }),
        },
      },
    )
    .get(
      "/v1/predictions/:id",
      ({ caller, params }) => caller.tenant((tx) => getPrediction(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "predictions:read",
        params: id("pre", "prediction"),
        detail: { summary: "Get a prediction", ...tag("predictions"), responses: responses({ 200: Prediction }) },
      },
    )
    .post("/v1/predictions/refresh", ({ caller }) => caller.tenant((tx) => requestRefresh(tx, caller.actor)), {
      scope: "predictions:write",
      detail: {
        summary: "Recompute patterns, predictions (scoring those whose window passed) and recommendations now",
        ...tag("predictions"),
        responses: responses({ 200: InsightsRefresh }),
      },
    })
    .get(
      "/v1/recommendations",
      ({ caller, query }) => caller.tenant((tx) => listRecommendations(tx, caller.principal.workspaceId, query)),
      {
        scope: "recommendations:read",
        query: t.Object({
          ...PageQuery,
          status: t.Optional(t.Union(["proposed", "accepted", "rejected", "applied"].map((s) => t.Literal(s)))),
          kind: t.Optional(t.String({ maxLength: 40 })),
          issue_id: t.Optional(t.String({ pattern: "^iss_[0-9a-z]{26}$" })),
        }),
        detail: {
          summary: "List recommendations, with how many were accepted and dismissed",
          ...tag("recommendations"),
          responses: responses({ 200: RecommendationPage }),
        },
      },
    )
    .get(
      "/v1/recommendations/:id",
      ({ caller, params }) => caller.tenant((tx) => getRecommendation(tx, caller.principal.workspaceId, params.id)),
      {
        scope: "recommendations:read",
        params: id("rec", "recommendation"),
        detail: {
          summary: "Get a recommendation with its evidence",
          ...tag("recommendations"),
          responses: responses({ 200: Recommendation }),
        },
      },
    )
    .post(
      "/v1/recommendations/:id/feedback",
      ({ caller, params, body }) =>
        caller.tenant((tx) => recommendationFeedback(tx, caller.actor, params.id, body.decision)),
      {
        scope: "recommendations:write",
        params: id("rec", "recommendation"),
        body: t.Object(
          { decision: t.Union([t.Literal("accept"), t.Literal("dismiss")]) },
          { additionalProperties: false },
        ),
        detail: {
          summary: "Accept or dismiss a recommendation",
          ...tag("recommendations"),
          responses: responses({ 200: Recommendation }),
        },
      },
    );
}
