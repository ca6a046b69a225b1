// Events as ingestion records them (a cluster, and an activity event at the time the event occurred), for
// tests that need clusters, patterns, predictions and recommendations to exist.
import type { Engine } from "../../src/db/engine.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { newId } from "../../src/ids.ts";
import { assignEvent } from "../../src/intelligence/clusters.ts";

export function ingestEvent(engine: Engine, workspaceId: string, message: string, at: Date, service = "checkout") {
  return withTenant(engine, workspaceId, async (tx) => {
    const assigned = await assignEvent(tx, workspaceId, { message, at, service });
    await tx.query(
      "insert into activity_events (workspace_id, id, kind, actor_type, payload, cluster_id, created_at) values ($1, $2, 'event.received', 'integration', $3::jsonb, $4, $5)",
      [workspaceId, newId("act"), JSON.stringify({ message }), assigned.cluster_id, at],
    );
    return assigned;
  });
}

/** A problem that recurs every five minutes: enough for a pattern, a prediction and a runbook recommendation. */
export async function recurringProblem(engine: Engine, workspaceId: string, tag: string): Promise<string> {
  let clusterId = "";
  const now = Date.now(); // one clock reading: the gaps are exactly five minutes however slow the inserts
  for (let i = 12; i >= 1; i--)
    clusterId = (
      await ingestEvent(
        engine,
        workspaceId,
        `${tag} sync job ${100 + i} failed: quota exceeded`,
        new Date(now - i * 300_000),
      )
    ).cluster_id;
  return clusterId;
}
