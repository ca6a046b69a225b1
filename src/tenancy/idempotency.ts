// The Idempotency-Key store (src/http/edge/idempotency.ts applies the semantics): one row per workspace,
// credential and key, under forced RLS; the kept answer sealed with the workspace's key (it can hold a secret
// shown once). Every function runs in the workspace's tenant transaction.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { SecretBox } from "../secrets/envelope.ts";

/** A first request that never finished (a crash between its commit and keeping its answer) blocks its key this long. */
const STALE_MS = 5 * 60_000;

export interface IdempotencyScope {
  workspaceId: string;
  credentialHash: string;
  key: string;
  fingerprint: string;
}

export interface KeptAnswer {
  status: number;
  type: string | null;
  location: string | null;
  body: string;
}

interface Row {
  id: string;
  fingerprint: string;
  status: "running" | "completed";
  response_status: number | null;
  response_type: string | null;
  response_location: string | null;
  response_body_encrypted: string | null;
  created_at: Date | string;
}

const SEAL = (rowId: string) => ({ table: "idempotency_keys", column: "response_body_encrypted", rowId });

/**
 * Claims the key for a first request (returns its row id), or returns the kept answer of an earlier identical
 * request; a different request with the key is 422, an unfinished one 409.
 */
export async function beginIdempotent(
  tx: Tx,
  kek: KekProvider,
  scope: IdempotencyScope,
  ttlHours: number,
): Promise<{ id: string; replay?: KeptAnswer }> {
  const id = newId("idem");
  const inserted = await tx.query<{ id: string }>(
    `insert into idempotency_keys (workspace_id, id, credential_hash, key, fingerprint, expires_at)
     values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))
     on conflict (workspace_id, credential_hash, key) do nothing returning id`,
    [scope.workspaceId, id, scope.credentialHash, scope.key, scope.fingerprint, ttlHours],
  );
  if (inserted.length) return { id };
  const [row] = await tx.query<Row>(
    `select id, fingerprint, status, response_status, response_type, response_location, response_body_encrypted, created_at
       from idempotency_keys where workspace_id = $1 and credential_hash = $2 and key = $3 and expires_at > now()`,
    [scope.workspaceId, scope.credentialHash, scope.key],
  );
  if (!row) {
    // Expired but not swept yet: the key is free again.
    await tx.query("delete from idempotency_keys where workspace_id = $1 and credential_hash = $2 and key = $3", [
      scope.workspaceId,
      scope.credentialHash,
      scope.key,
    ]);
    return beginIdempotent(tx, kek, scope, ttlHours);
  }
  if (row.fingerprint !== scope.fingerprint)
    throw new AppError(
      "validation_failed",
      "this Idempotency-Key was used with a different request (method, path or body); use a new key",
      { reason: "idempotency_key_reused" },
    );
  if (row.status === "running") {
    const stale = Date.now() - new Date(row.created_at).getTime() > STALE_MS;
    throw new AppError(
      "conflict",
      stale
        ? "an earlier request with this Idempotency-Key did not finish; its outcome is unknown: check, then use a new key"
        : "a request with this Idempotency-Key is still running; retry when it has finished",
      { reason: "idempotency_key_in_progress" },
    );
  }
  const body = row.response_body_encrypted
    ? await new SecretBox(tx, kek, scope.workspaceId).open(SEAL(row.id), row.response_body_encrypted)
    : "";
  return {
    id: row.id,
    replay: { status: row.response_status ?? 200, type: row.response_type, location: row.response_location, body },
  };
}

/** Keeps the first request's answer, sealed. */
export async function keepIdempotent(
  tx: Tx,
  kek: KekProvider,
  workspaceId: string,
  id: string,
  answer: KeptAnswer,
): Promise<void> {
  const sealed = await new SecretBox(tx, kek, workspaceId).seal(SEAL(id), answer.body);
  await tx.query(
    `update idempotency_keys set status = 'completed', completed_at = now(), response_status = $3, response_type = $4,
            response_location = $5, response_body_encrypted = $6
      where workspace_id = $1 and id = $2`,
    [workspaceId, id, answer.status, answer.type, answer.location, sealed],
  );
}

/** Frees the key: the first request changed nothing (refused, or failed), so a retry may run. */
export async function forgetIdempotent(tx: Tx, workspaceId: string, id: string): Promise<void> {
  await tx.query("delete from idempotency_keys where workspace_id = $1 and id = $2", [workspaceId, id]);
}

/** Deletes expired keys of one workspace (the retention job); returns how many. */
export async function sweepIdempotencyKeys(tx: Tx, workspaceId: string): Promise<number> {
  const rows = await tx.query(
    "delete from idempotency_keys where workspace_id = $1 and expires_at < now() returning 1",
    [workspaceId],
  );
  return rows.length;
}
