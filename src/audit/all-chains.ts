// The operator's view of every chain at once: each workspace's trail (entered through the tenant door) and
// the operator log. What `causeloop audit verify` and `audit checkpoint` run.
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { checkpointOperatorLog, OPERATOR_STREAM, verifyOperatorLog } from "./operator-log.ts";
import type { Signer } from "./signing.ts";
import { createCheckpoint, verifyWorkspace } from "./trail.ts";

async function workspaceIds(engine: Engine, only?: string): Promise<string[]> {
  if (!only) return (await engine.query<{ id: string }>("select id from workspaces order by id")).map((w) => w.id);
  const exists = await engine.query("select 1 from workspaces where id = $1", [only]);
  if (!exists[0]) throw new AppError("not_found", `workspace ${only} not found`);
  return [only];
}

/** Every workspace's chain (or one), and the operator log when no workspace is named. */
export async function verifyEverything(engine: Engine, signer: Signer, workspace?: string) {
  const results = [];
  for (const id of await workspaceIds(engine, workspace)) results.push(await withTenant(engine, id, (tx) => verifyWorkspace(tx, id, signer)));
  const operatorLog = workspace ? undefined : await verifyOperatorLog(engine, signer);
  return { ok: results.every((r) => r.ok) && (operatorLog?.ok ?? true), workspaces: results, operator_log: operatorLog };
}

/** Signs a checkpoint of each chain head now (the operator log's too when no workspace is named). */
export async function checkpointEverything(engine: Engine, signer: Signer, workspace?: string) {
  const created: { workspace_id: string; seq: number }[] = [];
  for (const id of await workspaceIds(engine, workspace)) {
    const cp = await withTenant(engine, id, (tx) => createCheckpoint(tx, id, signer));
    if (cp) created.push({ workspace_id: id, seq: cp.seq });
  }
  if (!workspace) {
    const cp = await checkpointOperatorLog(engine, signer);
    if (cp) created.push({ workspace_id: OPERATOR_STREAM, seq: cp.seq });
  }
  return { created };
}
