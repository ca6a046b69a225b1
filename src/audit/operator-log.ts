// The operator log (0014_operator_log.sql): the hash-chained record of operator actions that belong to no
// single workspace. Same canonical encoding and verifier as a workspace's audit trail, with the constant
// 'operator' in the workspace field; signed checkpoints use the audit signing key.
import { userInfo } from "node:os";
import type { Engine, Queryable } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import type { ChainRow, Checkpoint, VerifyResult } from "./chain.ts";
import { CHAIN_COLUMNS, signCheckpoint, verifyChain } from "./trail.ts";
import type { Signer } from "./signing.ts";

export const OPERATOR_STREAM = "operator";

export type OperatorAction =
  | "migration.applied"
  | "role.setup"
  | "key.kek_rotated"
  | "job.run"
  | "tenant.offboarded"
  | "tenant.purged"
  | "tenant.restored"
  | "tenant.rate_limit_changed"
  | "isolation.attested"
  | "isolation.attestation_failed"
  | "alert_rule.changed"
  | "operator_alert.acknowledged"
  | "backup.created"
  | "backup.failed"
  | "backup.verified"
  | "backup.restored"
  | "backup.pruned"
  | "erasure_ledger.replayed";

export interface OperatorEntry {
  action: OperatorAction;
  actor: string;
  actorType?: "operator" | "service";
  targetType?: string;
  targetId?: string;
  after?: Record<string, unknown>;
}

/** Who runs an operator command: the login behind sudo, else the process's user. */
export function operatorIdentity(): string {
  if (process.env.SUDO_USER) return `operator:${process.env.SUDO_USER}`;
  let info: { username: string; uid: number } | undefined;
  try {
    info = userInfo();
  } catch {
    // no passwd entry (some containers)
  }
  // Bun reports "unknown" when it cannot resolve the name: the environment's name, else the uid, says more.
  const name =
    info?.username && info.username !== "unknown"
      ? info.username
      : process.env.USER || process.env.LOGNAME || (info ? `uid${info.uid}` : "unknown");
  return `operator:${name}`;
}

/** Appends one entry in the caller's transaction; a no-op on a schema older than the operator log. */
export async function appendOperatorLog(db: Queryable, entry: OperatorEntry): Promise<string | undefined> {
  const [exists] = await db.query<{ ok: boolean }>("select to_regclass('operator_log') is not null as ok");
  if (!exists?.ok) return undefined;
  const [row] = await db.query<{ id: string }>(
    "select operator_log_append($1, $2, $3, $4, null, $5::jsonb, $6) as id",
    [
      entry.action,
      entry.actor,
      entry.targetType ?? null,
      entry.targetId ?? null,
      entry.after === undefined ? null : JSON.stringify(entry.after),
      entry.actorType ?? "operator",
    ],
  );
  return row?.id;
}

/** The chain columns of a workspace's trail, with the constant 'operator' in the workspace field. */
const COLUMNS = CHAIN_COLUMNS.replace(/^workspace_id,/, `'${OPERATOR_STREAM}' as workspace_id,`);

/** Recomputes the operator log's chain and checks its signed checkpoints (owner connection). */
export async function verifyOperatorLog(
  db: Queryable,
  signer: Pick<Signer, "keyId" | "verify">,
): Promise<VerifyResult> {
  return verifyChain(
    OPERATOR_STREAM,
    await db.query<Checkpoint>(
      "select seq::float8 as seq, hash, key_id, signature, signed_at from operator_log_checkpoints order by seq",
    ),
    (after, limit) =>
      db.query<ChainRow>(`select ${COLUMNS} from operator_log where seq > $1 order by seq limit ${limit}`, [after]),
    signer,
  );
}

/** Signs the operator log's head unless a checkpoint covers it; works for the owner and the runtime role. */
export async function checkpointOperatorLog(db: Queryable, signer: Signer): Promise<Checkpoint | undefined> {
  const [exists] = await db.query<{ ok: boolean }>(
    "select to_regprocedure('operator_log_unsigned_head()') is not null as ok",
  );
  if (!exists?.ok) return undefined;
  const [head] = await db.query<{ seq: number; hash: string }>(
    "select seq::float8 as seq, hash from operator_log_unsigned_head()",
  );
  if (!head) return undefined;
  const cp = await signCheckpoint(signer, OPERATOR_STREAM, head);
  const [made] = await db.query<{ ok: boolean }>("select operator_log_add_checkpoint($1, $2, $3, $4, $5) as ok", [
    cp.seq,
    cp.hash,
    cp.key_id,
    cp.signature,
    cp.signed_at,
  ]);
  return made?.ok ? cp : undefined;
}

export interface OperatorLogEntry {
  seq: number;
  id: string;
  action: string;
  actor_id: string | null;
  actor_type: string;
  target_type: string | null;
  target_id: string | null;
  after: unknown;
  created_at: string;
  hash: string;
}

/** Newest first, keyset on seq. */
export async function listOperatorLog(
  db: Queryable,
  filter: { action?: string; limit?: number; before?: number } = {},
): Promise<OperatorLogEntry[]> {
  const limit = filter.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new AppError("validation_failed", "limit must be an integer from 1 to 1000");
  return db.query<OperatorLogEntry>(
    `select seq::float8 as seq, id, action, actor_id, actor_type, target_type, target_id, after, audit_time(created_at) as created_at, hash
       from operator_log
      where ($1::text is null or action = $1) and ($2::bigint is null or seq < $2)
      order by seq desc limit $3`,
    [filter.action ?? null, filter.before ?? null, limit],
  );
}

/** Appends one entry in a transaction of its own (for actions made of several transactions). */
export function logOperatorAction(engine: Engine, entry: OperatorEntry): Promise<unknown> {
  return engine.transaction((tx) => appendOperatorLog(tx, entry));
}

/** The operator log's record of a master key rotation (by hand, or after a purge). */
export function logKekRotation(
  engine: Engine,
  actor: string,
  rotation: { kekCurrentVersion: number } & Record<string, unknown>,
  why: Record<string, unknown>,
): Promise<unknown> {
  return logOperatorAction(engine, {
    action: "key.kek_rotated",
    actor,
    targetType: "master_key",
    targetId: `v${rotation.kekCurrentVersion}`,
    after: { ...why, ...rotation },
  });
}
