// The intelligence routes' answers, as the OpenAPI contract names them (#/components/schemas/...).
import { t } from "elysia";
import { component, Nullable, Page, Timestamp } from "../http/contract.ts";

const Evidence = t.Record(t.String(), t.Unknown(), { description: "The recorded data behind it" });

export const Cluster = component(
  "Cluster",
  t.Object({
    id: t.String({ examples: ["clu_01jd0000000000000000000000"] }),
    template: t.String({
      description: "The problem's message with its variable parts marked <*>",
      examples: ["Connection to <*> timed out after <*>"],
    }),
    event_count: t.Number(),
    first_seen_at: Nullable(Timestamp),
    last_seen_at: Nullable(Timestamp),
    services: t.Array(t.String()),
    corrected: t.Boolean({ description: "An engineer merged, split or pinned it; the engine never merges it itself" }),
    issue_ids: t.Array(t.String()),
    created_at: Timestamp,
  }),
);
export const ClusterPage = component("ClusterPage", Page(Cluster));
export const CorrectedCluster = component(
  "CorrectedCluster",
  t.Composite([Cluster, t.Object({ moved: t.Integer({ description: "Stored events moved to this cluster" }) })]),
);

export const Pattern = component(
  "Pattern",
  t.Object({
    id: t.String({ examples: ["pmt_01jd0000000000000000000000"] }),
    cluster_id: Nullable(t.String()),
    kind: t.String({ examples: ["periodic", "time-of-day", "weekday", "bursty", "follows"] }),
    name: t.String(),
    description: t.String(),
    status: t.String({ examples: ["candidate", "active", "dismissed"] }),
    risk_score: t.Number(),
    evidence: Evidence,
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export const PatternPage = component("PatternPage", Page(Pattern));

export const Prediction = component(
  "Prediction",
  t.Object({
    id: t.String({ examples: ["pre_01jd0000000000000000000000"] }),
    pattern_id: t.String(),
    cluster_id: Nullable(t.String()),
    window_start: Nullable(Timestamp),
    window_end: Nullable(Timestamp),
    confidence: t.Number({ minimum: 0, maximum: 1 }),
    explanation: t.String(),
    outcome: t.String({ examples: ["pending", "hit", "miss"] }),
    scored_at: Nullable(Timestamp),
    created_at: Timestamp,
  }),
);
export const PredictionPage = component(
  "PredictionPage",
  t.Composite([
    Page(Prediction),
    t.Object({
      hit_rate: t.Object({ hit: t.Integer(), miss: t.Integer(), rate: Nullable(t.Number()) }),
    }),
  ]),
);

export const Recommendation = component(
  "Recommendation",
  t.Object({
    id: t.String({ examples: ["rec_01jd0000000000000000000000"] }),
    kind: t.String({ examples: ["similar_resolution", "missing_runbook", "mute_noisy_source"] }),
    title: t.String(),
    body: t.String(),
    status: t.String({ examples: ["proposed", "accepted", "rejected"] }),
    cluster_id: Nullable(t.String()),
    issue_id: Nullable(t.String()),
    pattern_id: Nullable(t.String()),
    evidence: Evidence,
    decided_at: Nullable(Timestamp),
    created_at: Timestamp,
  }),
);
export const RecommendationPage = component(
  "RecommendationPage",
  t.Composite([Page(Recommendation), t.Object({ counts: t.Record(t.String(), t.Integer()) })]),
);

export const InsightsRefresh = component(
  "InsightsRefresh",
  t.Object({
    scored: t.Object({ hit: t.Integer(), miss: t.Integer() }),
    patterns: t.Integer(),
    predictions: t.Integer(),
    recommendations: t.Integer(),
  }),
);
