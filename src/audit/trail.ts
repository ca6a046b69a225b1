// Reading the audit trail: keyset-paginated listing, chain verification and signed checkpoints, all inside
// one workspace's tenant transaction.
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { ChainVerifier, checkpointPayload, type ChainRow, type Checkpoint, type VerifyResult } from "./chain.ts";
import type { Signer } from "./signing.ts";
import type { AnchorStore } from "./anchors.ts";
import { emitEvent } from "../delivery/events.ts";
import { pageLimit, Where, type Page } from "../db/where.ts";
import { appendAudit, type Actor } from "./service.ts";

/** The columns of a chain row as text, exactly as the canonical encoding uses them. */
export const CHAIN_COLUMNS = `workspace_id, id, seq::float8 as seq, action, actor_id, actor_type, target_type, target_id,
  before::text as before, after::text as after, trace_id, host(ip) as ip, user_agent, audit_time(created_at) as created_at, prev_hash, hash`;

const BATCH = 5000;

export async function readCheckpoints(tx: Tx, workspaceId: string): Promise<Checkpoint[]> {
  return tx.query<Checkpoint>(
    "select seq::float8 as seq, hash, key_id, signature, signed_at from audit_checkpoints where workspace_id = $1 order by seq",
    [workspaceId],
  );
}

/**
 * Recomputes a chain (a workspace's trail, or the operator log) in batches of rows after a seq, and checks
 * every checkpoint signature.
 */
export async function verifyChain(
  stream: string,
  checkpoints: Checkpoint[],
  rowsAfter: (seq: number, limit: number) => Promise<ChainRow[]>,
  signer: Pick<Signer, "keyId" | "verify">,
): Promise<VerifyResult> {
  const verifier = new ChainVerifier(stream, new Set(checkpoints.map((c) => c.seq)));
  let after = -1;
  for (;;) {
    const rows = await rowsAfter(after, BATCH);
    for (const row of rows) verifier.push(row);
    if (rows.length < BATCH) break;
    after = (rows.at(-1) as ChainRow).seq;
  }
  return verifier.finish(
    checkpoints,
    async (payload, signature, keyId) => keyId === signer.keyId && (await signer.verify(payload, signature)),
  );
}

/** Signs a chain head (checkpoint payload v1) with the audit key. */
export async function signCheckpoint(
  signer: Signer,
  stream: string,
  head: { seq: number; hash: string },
): Promise<Checkpoint> {
  const signedAt = new Date().toISOString();
  const signature = await signer.sign(checkpointPayload(stream, head.seq, head.hash, signedAt));
  return { seq: head.seq, hash: head.hash, key_id: signer.keyId, signature, signed_at: signedAt };
}

/** Recomputes the workspace's whole chain and checks every checkpoint signature. */
export async function verifyWorkspace(
  tx: Tx,
  workspaceId: string,
  signer: Pick<Signer, "keyId" | "verify">,
): Promise<VerifyResult> {
  return verifyChain(
    workspaceId,
    await readCheckpoints(tx, workspaceId),
    (after, limit) =>
      tx.query<ChainRow>(
        `select ${CHAIN_COLUMNS} from audit_log where workspace_id = $1 and seq > $2 order by seq limit ${limit}`,
        [workspaceId, after],
      ),
    signer,
  );
}

/** Signs the chain's current head, unless a checkpoint already covers it. */
export async function createCheckpoint(tx: Tx, workspaceId: string, signer: Signer): Promise<Checkpoint | undefined> {
  await tx.query("select pg_advisory_xact_lock(hashtextextended('audit:' || $1, 0))", [workspaceId]);
  const [head] = await tx.query<{ seq: number; hash: string }>(
    "select seq::float8 as seq, hash from audit_log where workspace_id = $1 order by seq desc limit 1",
    [workspaceId],
  );
  if (!head) return undefined;
  const [last] = await tx.query<{ seq: number }>(
    "select coalesce(max(seq), 0)::float8 as seq from audit_checkpoints where workspace_id = $1",
    [workspaceId],
  );
  if ((last?.seq ?? 0) >= head.seq) return undefined;
  const checkpoint = await signCheckpoint(signer, workspaceId, head);
  await tx.query(
    "insert into audit_checkpoints (workspace_id, id, seq, hash, key_id, signature, signed_at) values ($1, $2, $3, $4, $5, $6, $7)",
    [
      workspaceId,
      newId("acp"),
      checkpoint.seq,
      checkpoint.hash,
      checkpoint.key_id,
      checkpoint.signature,
      checkpoint.signed_at,
    ],
  );
  // Anchored by the customer too, when a webhook subscribes to audit.checkpoint: truncating the tail together
  // with its checkpoint is then visible from outside (`causeloop audit verify-export --anchors`).
  await emitEvent(tx, workspaceId, "audit.checkpoint", { workspace_id: workspaceId, ...checkpoint });
  return checkpoint;
}

/**
 * Checkpoints every workspace that has min_events new rows, or an unsigned row older than maxAgeMinutes; each
 * committed checkpoint is also written to the anchors outside the database.
 */
export async function checkpointDueWorkspaces(
  engine: Engine,
  signer: Signer,
  options: { everyEvents: number; maxAgeMinutes: number },
  anchors?: AnchorStore,
): Promise<number> {
  const due = await engine.query<{ workspace_id: string }>(
    "select workspace_id from audit_checkpoints_due($1, make_interval(mins => $2))",
    [options.everyEvents, options.maxAgeMinutes],
  );
  let made = 0;
  for (const { workspace_id } of due) {
    const checkpoint = await withTenant(engine, workspace_id, (tx) => createCheckpoint(tx, workspace_id, signer));
    if (!checkpoint) continue;
    anchors?.append({ stream: workspace_id, ...checkpoint });
    made++;
  }
  return made;
}

export interface AuditFilter {
  action?: string;
  actor_id?: string;
  target_type?: string;
  target_id?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditEntryView {
  id: string;
  seq: number;
  action: string;
  actor_id: string | null;
  actor_type: string;
  target_type: string | null;
  target_id: string | null;
  before: unknown;
  after: unknown;
  trace_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  hash: string | null;
}

/** Newest first, keyset on seq (gapless per workspace, so the cursor is simply a seq); never a count(*). */
export async function listAudit(
  tx: Tx,
  workspaceId: string,
  filter: AuditFilter,
): Promise<{ data: AuditEntryView[]; next_cursor: string | null }> {
  const limit = pageLimit(filter.limit, 500);
  if (filter.cursor && !/^\d{1,15}$/.test(filter.cursor))
    throw new AppError("validation_failed", "cursor is not valid; use next_cursor from the previous page");
  const where = new Where("workspace_id = ?", workspaceId)
    .maybe("action = ?", filter.action)
    .maybe("actor_id = ?", filter.actor_id)
    .maybe("target_type = ?", filter.target_type)
    .maybe("target_id = ?", filter.target_id)
    .time("from", "created_at", ">=", filter.from)
    .time("to", "created_at", "<", filter.to)
    .maybe("seq < ?", filter.cursor ? Number(filter.cursor) : undefined);
  const rows = await tx.query<AuditEntryView>(
    `select id, seq::float8 as seq, action, actor_id, actor_type, target_type, target_id, before, after, trace_id, host(ip) as ip, user_agent,
            audit_time(created_at) as created_at, hash
       from audit_log where ${where} order by seq desc limit ${where.param(limit + 1)}`,
    where.params,
  );
  const data = rows.slice(0, limit);
  return { data, next_cursor: rows.length > limit ? String((data.at(-1) as AuditEntryView).seq) : null };
}

/** The trail as a member reads it: one page, and the read itself recorded in the trail (SOC 2 CC7.2). */
export async function readAuditTrail(tx: Tx, actor: Actor, filter: AuditFilter): Promise<Page<AuditEntryView>> {
  const page = await listAudit(tx, actor.workspaceId, filter);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "audit.read",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "audit_log",
    after: { filter, returned: page.data.length },
    context: actor.context,
  });
  return page;
}
