// A cluster as the engine holds it, and the small helpers its indexes use.
import { WILDCARD } from "./mask.ts";
import type { ClusterSnapshot } from "./snapshot.ts";

export type Cluster = {
  id: string;
  tokens: string[];
  count: number;
  firstSeen: number | null;
  lastSeen: number | null;
  pinned: boolean;
};

export function shapeOf(tokens: readonly string[], first = tokens[0] ?? ""): string {
  return `${tokens.length} ${first.includes(WILDCARD) ? WILDCARD : first}`;
}

export function constantCount(tokens: readonly string[]): number {
  return tokens.filter((token) => !token.includes(WILDCARD)).length;
}

/** What an engineer sees of a cluster (and what the snapshot saves of it). */
export function view(cluster: Cluster): ClusterSnapshot {
  const { id, count, firstSeen, lastSeen, pinned } = cluster;
  return { id, template: cluster.tokens.join(" "), count, firstSeen, lastSeen, pinned };
}

export function addTo<K>(index: Map<K, Set<Cluster>>, key: K, cluster: Cluster): void {
  const set = index.get(key);
  if (set) set.add(cluster);
  else index.set(key, new Set([cluster]));
}

export function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

export function latest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
