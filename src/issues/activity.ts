// An issue's timeline: every event ingested for it and every change made to it, one activity_events row each,
// written in the transaction of the change.
import type { Static } from "elysia";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { newId } from "../ids.ts";
import type { ActivityEvent } from "./schemas.ts";

export type Activity = Static<typeof ActivityEvent>;

export interface ActivityInput {
  workspaceId: string;
  issueId: string | null;
  actorId: string | null;
  actorType: "user" | "token" | "service_account" | "operator" | "system" | "integration";
  kind: string;
  payload: Record<string, unknown>;
  /** An ingested event's cluster, and when the event occurred (the clusters' history is in occurrence time). */
  clusterId?: string | null;
  at?: string;
}

/** Appends one activity event and returns its id. */
export async function recordActivity(tx: Tx, input: ActivityInput): Promise<string> {
  const id = newId("act");
  await tx.query(
    `insert into activity_events (workspace_id, id, issue_id, actor_id, actor_type, kind, payload, cluster_id, created_at)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, coalesce($9::timestamptz, now()))`,
    [
      input.workspaceId,
      id,
      input.issueId,
      input.actorId,
      input.actorType,
      input.kind,
      JSON.stringify(input.payload),
      input.clusterId ?? null,
      input.at ?? null,
    ],
  );
  return id;
}

/** The issue's timeline, newest first (the caller has checked that the issue exists in this workspace). */
export async function listActivity(
  tx: Tx,
  workspaceId: string,
  issueId: string,
  query: PageQuery = {},
): Promise<Page<Activity>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Activity & { created_at: Date | string }>(
    `select id, issue_id, kind, actor_type, actor_id, payload, created_at from activity_events
      where workspace_id = $1 and issue_id = $2 and ($3::text is null or id < $3) order by id desc limit $4`,
    [workspaceId, issueId, after, limit + 1],
  );
  return idPage(
    rows.map((row) => ({ ...row, created_at: new Date(row.created_at).toISOString() })),
    limit,
  );
}
