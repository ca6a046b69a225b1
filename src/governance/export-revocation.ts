// What an erasure does to exports, and who may still download one. An archive built before an erasure is a
// copy of the erased person's data: the erasure deletes it from storage and marks the export `revoked`;
// an export being built is invalidated (its build starts over from data read after the erasure). A signed
// download link of a disabled (soft-offboarded) workspace serves nothing until the tenant is restored.
import { rmSync } from "node:fs";
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import type { ArchiveStore } from "./storage.ts";
import { exportStorageKey, getExport, type ExportView } from "./exports.ts";

export interface ExportsRevoked {
  /** Completed exports whose archive was deleted. */
  removed: string[];
  /** Exports queued or being built: they complete only from data read after the erasure. */
  invalidated: string[];
}

/** Deletes an archive wherever it was stored (a local path stays removable after a switch to S3). */
async function removeArchive(store: ArchiveStore, kind: string | null, key: string): Promise<void> {
  if (kind === "local" && store.kind !== "local") return rmSync(key, { force: true });
  if (kind === "s3" && store.kind !== "s3")
    throw new AppError(
      "internal",
      "an export archive lives in the S3 bucket, which is no longer configured; configure CAUSELOOP_EXPORT_S3_* to finish the erasure",
    );
  await store.remove(key);
}

/**
 * Inside the erasure's transaction: in-flight exports first (the row lock taken here makes a build that is
 * finishing wait for this transaction, then fail its epoch check), then every completed archive. Storage
 * deletes happen before the commit, so the certificate never claims a removal that did not happen; if one
 * fails the erasure rolls back and stays `processing` for the scheduler to retry.
 */
export async function revokeExportsForErasure(
  tx: Tx,
  store: ArchiveStore,
  actor: Actor,
  requestId: string,
): Promise<ExportsRevoked> {
  const ws = actor.workspaceId;
  const inFlight = await tx.query<{ id: string }>(
    "update export_jobs set erasure_epoch = erasure_epoch + 1 where workspace_id = $1 and status in ('queued', 'running') returning id",
    [ws],
  );
  const reason = `erasure ${requestId} (GDPR Art. 17): the archive held data of the erased person`;
  const completed = await tx.query<{ id: string; storage_kind: string | null; storage_key: string | null }>(
    "select id, storage_kind, storage_key from export_jobs where workspace_id = $1 and status = 'completed' order by id for update",
    [ws],
  );
  if (completed.length) {
    await tx.query(
      "update export_jobs set status = 'revoked', revoked_at = now(), revoked_reason = $3, storage_key = null where workspace_id = $1 and id in (select jsonb_array_elements_text($2::jsonb))",
      [ws, JSON.stringify(completed.map((r) => r.id)), reason],
    );
  }
  for (const row of completed) {
    if (row.storage_key) await removeArchive(store, row.storage_kind, row.storage_key);
    await tx.query(
      "insert into compliance_log (workspace_id, id, kind, actor_id, details) values ($1, $2, 'export.revoked', $3, $4::jsonb)",
      [ws, newId("cpl"), actor.actorId, JSON.stringify({ export_id: row.id, rtbf_request_id: requestId })],
    );
    await appendAudit(tx, {
      workspaceId: ws,
      action: "export.revoked",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "export",
      targetId: row.id,
      before: { status: "completed" },
      after: { status: "revoked", rtbf_request_id: requestId },
      context: actor.context,
    });
  }
  for (const row of inFlight) {
    await appendAudit(tx, {
      workspaceId: ws,
      action: "export.invalidated",
      actorId: actor.actorId,
      actorType: actor.actorType,
      targetType: "export",
      targetId: row.id,
      after: { rtbf_request_id: requestId, rebuild: true },
      context: actor.context,
    });
  }
  return { removed: completed.map((r) => r.id).sort(), invalidated: inFlight.map((r) => r.id).sort() };
}

/** The export a signed link may serve: 403 while the workspace is disabled, 410 once revoked or expired. */
export async function downloadableExport(
  tx: Tx,
  workspaceId: string,
  id: string,
): Promise<{ view: ExportView; key: string | null }> {
  const [ws] = await tx.query<{ deleted_at: Date | null }>("select deleted_at from workspaces where id = $1", [
    workspaceId,
  ]);
  if (!ws) throw new AppError("not_found", `export ${id} is not available`);
  if (ws.deleted_at)
    throw new AppError(
      "workspace_disabled",
      "this workspace is disabled (offboarded); its exports cannot be downloaded",
    );
  const view = await getExport(tx, workspaceId, id);
  if (view.status === "revoked")
    throw new AppError("gone", `export ${id} was deleted by an erasure request; request a new export`, {
      revoked_at: view.revoked_at,
    });
  if (view.status === "expired") throw new AppError("gone", `export ${id} has expired; request a new export`);
  return { view, key: await exportStorageKey(tx, workspaceId, id) };
}
