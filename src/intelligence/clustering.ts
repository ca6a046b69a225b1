// Clustering of events into "the same problem" (issue 20): see clustering/engine.ts.
export { ClusterEngine, type Assignment, type ClusterEngineOptions, type ClusterView } from "./clustering/engine.ts";
export { SNAPSHOT_VERSION, type EngineSnapshot } from "./clustering/snapshot.ts";
export { maskedTokens, WILDCARD } from "./clustering/mask.ts";
