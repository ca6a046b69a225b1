// The JSON-safe, versioned shape in which a workspace's clusters are persisted and the engine resumed.
export const SNAPSHOT_VERSION = 1;

export type ClusterSnapshot = {
  id: string;
  template: string;
  count: number;
  firstSeen: number | null;
  lastSeen: number | null;
  /** Set by an engineer's correction: the engine never merges it on its own. */
  pinned: boolean;
};

export type PinSnapshot = { message: string; clusterId: string } | { template: string; clusterId: string };

export type EngineSnapshot = {
  version: typeof SNAPSHOT_VERSION;
  variableAfter: number;
  counter: number;
  clusters: ClusterSnapshot[];
  /** [merged id, the id it was merged into] */
  aliases: [string, string][];
  pins: PinSnapshot[];
};
