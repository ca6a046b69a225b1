// The operator's review of erasure requests across workspaces (`causeloop rtbf ...`, the console): each
// request is read and decided through its own workspace's door.
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import type { ArchiveStore } from "./storage.ts";
import { approve, getRequest, transition, type RtbfKeys, type RtbfView } from "./rtbf.ts";

export type ReviewedRequest = RtbfView & { workspace_id: string };

async function workspaceOf(engine: Engine, id: string): Promise<string> {
  const [row] = await engine.query<{ workspace_id: string }>("select workspace_id from rtbf_requests where id = $1", [
    id,
  ]);
  if (!row) throw new AppError("not_found", `erasure request ${id} not found`);
  return row.workspace_id;
}

/** Every workspace's requests by due date, optionally only overdue ones or one status. */
export async function reviewQueue(
  engine: Engine,
  filter: { overdue?: boolean; status?: string },
): Promise<ReviewedRequest[]> {
  const rows = await engine.query<{ workspace_id: string; id: string }>(
    "select workspace_id, id from rtbf_requests order by due_at",
  );
  const out: ReviewedRequest[] = [];
  for (const row of rows) {
    const view = await withTenant(engine, row.workspace_id, (tx) => getRequest(tx, row.workspace_id, row.id));
    if (filter.overdue && !view.overdue) continue;
    if (filter.status && view.status !== filter.status) continue;
    out.push({ workspace_id: row.workspace_id, ...view });
  }
  return out;
}

export async function reviewRequest(engine: Engine, id: string): Promise<ReviewedRequest> {
  const ws = await workspaceOf(engine, id);
  return { workspace_id: ws, ...(await withTenant(engine, ws, (tx) => getRequest(tx, ws, id))) };
}

/** The operator's decision: approve executes the erasure; reject and hold need a reason; verify starts the check. */
export async function decideRequest(
  engine: Engine,
  keys: () => Promise<{ rtbf: RtbfKeys; store: ArchiveStore }>,
  actorId: string,
  id: string,
  decision: "approve" | "reject" | "hold" | "verify",
  reason?: string,
): Promise<ReviewedRequest> {
  const ws = await workspaceOf(engine, id);
  const actor = { workspaceId: ws, actorId, actorType: "operator" as const, context: {} };
  if (decision === "approve") {
    const { rtbf, store } = await keys();
    await approve(engine, rtbf, store, actor, id);
  } else {
    const to = decision === "reject" ? "rejected" : decision === "hold" ? "on_hold" : "verifying";
    await withTenant(engine, ws, (tx) => transition(tx, actor, id, to, reason));
  }
  return reviewRequest(engine, id);
}
