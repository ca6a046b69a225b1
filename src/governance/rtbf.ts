// Right to be forgotten (GDPR Art. 17, 003 "RTBF"): requests keyed by an HMAC of the subject's email, a
// state machine, an erasure that really executes on both engines (one transaction through the tenant door,
// so a crash leaves the request in `processing` for the scheduler to finish), and a signed certificate.
//   received -> (verifying ->) approved -> processing -> completed   (verifying is optional: approving a
//   received request is the decision that the identity is established; the README says the same)
//   received | verifying -> on_hold | rejected;  on_hold -> verifying | approved | rejected
import type { Static } from "elysia";
import type { ErasureRequest } from "./schemas.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import { signJws, type Signer } from "../audit/signing.ts";
import { ERASURE_MAP } from "./erasure-map.ts";
import { loadServerKey, type ServerKeySource } from "../secrets/server-keys.ts";
import { enqueue } from "../jobs/queue.ts";
import type { ArchiveStore } from "./storage.ts";
import { revokeExportsForErasure } from "./export-revocation.ts";
import { erasedTables } from "./vacuum.ts";
import type { ErasureLedger } from "../backups/ledger.ts";

export const RTBF_STATUSES = [
  "received",
  "verifying",
  "approved",
  "processing",
  "completed",
  "rejected",
  "on_hold",
] as const;
export type RtbfStatus = (typeof RTBF_STATUSES)[number];

export function isRtbfStatus(value: string): value is RtbfStatus {
  return (RTBF_STATUSES as readonly string[]).includes(value);
}

const TRANSITIONS: Record<RtbfStatus, RtbfStatus[]> = {
  received: ["verifying", "approved", "rejected", "on_hold"],
  verifying: ["approved", "rejected", "on_hold"],
  on_hold: ["verifying", "approved", "rejected"],
  approved: ["processing"],
  processing: ["completed"],
  completed: [],
  rejected: [],
};

export interface RtbfKeys {
  hmacKey: CryptoKey;
  signer: Signer;
  /** Where completed erasures are also recorded, beside the backups (none: the database only). */
  ledger?: ErasureLedger;
}

export const RTBF_KEY_FILE = "rtbf.key";

/** The HMAC key turning emails into subject refs: CAUSELOOP_RTBF_KEY(_FILE), else the data dir's rtbf.key. */
export async function loadRtbfKeys(source: ServerKeySource, signer: Signer): Promise<RtbfKeys> {
  const secret = loadServerKey(source, "CAUSELOOP_RTBF_KEY", RTBF_KEY_FILE, () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"),
  );
  return { hmacKey: await importHmacKey(secret), signer };
}

export async function importHmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
}

export async function subjectRef(key: CryptoKey, email: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(email.trim().toLowerCase()));
  return Buffer.from(mac).toString("hex");
}

/** An erasure request as the API answers it (the contract's schema is the one definition). */
export type RtbfView = Static<typeof ErasureRequest>;

const COLUMNS =
  "id, subject_ref, mode, status, reason, status_reason, received_at, due_at, decided_at, completed_at, result, vacuum_status, vacuum_tables, vacuumed_at";
const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

function toView(row: Record<string, unknown>): RtbfView {
  const due = new Date(row.due_at as string);
  const open = !["completed", "rejected"].includes(row.status as string);
  return {
    ...(row as unknown as RtbfView),
    received_at: iso(row.received_at) as string,
    due_at: due.toISOString(),
    decided_at: iso(row.decided_at),
    completed_at: iso(row.completed_at),
    vacuumed_at: iso(row.vacuumed_at),
    overdue: open && due.getTime() < Date.now(),
  };
}

async function load(tx: Tx, workspaceId: string, id: string): Promise<RtbfView & { subject_email: string | null }> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS}, subject_email from rtbf_requests where workspace_id = $1 and id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `erasure request ${id} not found`);
  return { ...toView(row), subject_email: row.subject_email as string | null };
}

async function record(
  tx: Tx,
  actor: Actor,
  id: string,
  subject: string,
  from: RtbfStatus | null,
  to: RtbfStatus,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(
    "insert into compliance_log (workspace_id, id, kind, subject_ref, actor_id, details) values ($1, $2, 'rtbf.transition', $3, $4, $5::jsonb)",
    [actor.workspaceId, newId("cpl"), subject, actor.actorId, JSON.stringify({ request_id: id, from, to, ...extra })],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: `rtbf.${to === "received" ? "submitted" : to}`,
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "rtbf_request",
    targetId: id,
    before: from ? { status: from } : undefined,
    after: { status: to, ...extra },
    context: actor.context,
  });
}

export async function submitRequest(
  tx: Tx,
  keys: RtbfKeys,
  actor: Actor,
  input: { email: string; mode?: "erasure"; reason?: string },
): Promise<RtbfView> {
  const email = input.email.trim().toLowerCase();
  const ref = await subjectRef(keys.hmacKey, email);
  const active = await tx.query(
    "select id from rtbf_requests where workspace_id = $1 and subject_ref = $2 and status not in ('completed', 'rejected')",
    [actor.workspaceId, ref],
  );
  if (active[0])
    throw new AppError("conflict", "an erasure request for this person is already open in this workspace", {
      request_id: (active[0] as { id: string }).id,
    });
  const id = newId("rtbf");
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into rtbf_requests (workspace_id, id, subject_ref, subject_email, mode, reason, requested_by) values ($1, $2, $3, $4, $5, $6, $7) returning ${COLUMNS}`,
    [actor.workspaceId, id, ref, email, input.mode ?? "erasure", input.reason ?? null, actor.actorId],
  );
  await record(tx, actor, id, ref, null, "received");
  return toView(row as Record<string, unknown>);
}

/** Requests in the order they were received (so the oldest, soonest due, come first). */
export async function listRequests(
  tx: Tx,
  workspaceId: string,
  filter: { status?: string; overdue?: boolean } & PageQuery,
): Promise<Page<RtbfView>> {
  const { limit, after } = idKeyset(filter);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from rtbf_requests where workspace_id = $1 and ($2::text is null or status = $2)
        and (not $3 or (due_at < now() and status not in ('completed', 'rejected')))
        and ($4::text is null or id > $4) order by id limit $5`,
    [workspaceId, filter.status ?? null, Boolean(filter.overdue), after, limit + 1],
  );
  return idPage(rows.map(toView), limit);
}

export async function getRequest(tx: Tx, workspaceId: string, id: string): Promise<RtbfView> {
  const { subject_email: _hidden, ...view } = await load(tx, workspaceId, id);
  return view;
}

/** verify, hold and reject: a transition of the state machine (an illegal one is 409). */
export async function transition(
  tx: Tx,
  actor: Actor,
  id: string,
  to: "verifying" | "on_hold" | "rejected",
  reason?: string,
): Promise<RtbfView> {
  const current = await load(tx, actor.workspaceId, id);
  if (!TRANSITIONS[current.status].includes(to))
    throw new AppError("conflict", `a ${current.status} request cannot become ${to}`, { status: current.status });
  if ((to === "rejected" || to === "on_hold") && !reason?.trim())
    throw new AppError(
      "validation_failed",
      `a reason is required to ${to === "rejected" ? "reject" : "hold"} a request`,
    );
  await tx.query(
    `update rtbf_requests set status = $3, status_reason = coalesce($4, status_reason), decided_by = $5, decided_at = now(),
            subject_email = case when $3 = 'rejected' then null else subject_email end where workspace_id = $1 and id = $2`,
    [actor.workspaceId, id, to, reason ?? null, actor.actorId],
  );
  await record(tx, actor, id, current.subject_ref, current.status, to, reason ? { reason } : {});
  return getRequest(tx, actor.workspaceId, id);
}

/** Approve: the request moves to processing (committed), then the erasure runs. */
export async function approve(
  engine: Engine,
  keys: RtbfKeys,
  store: ArchiveStore,
  actor: Actor,
  id: string,
): Promise<RtbfView> {
  await withTenant(engine, actor.workspaceId, async (tx) => {
    const current = await load(tx, actor.workspaceId, id);
    if (!TRANSITIONS[current.status].includes("approved"))
      throw new AppError("conflict", `a ${current.status} request cannot be approved`, { status: current.status });
    await tx.query(
      "update rtbf_requests set status = 'processing', decided_by = $3, decided_at = now() where workspace_id = $1 and id = $2",
      [actor.workspaceId, id, actor.actorId],
    );
    await record(tx, actor, id, current.subject_ref, current.status, "approved");
    await record(tx, actor, id, current.subject_ref, "approved", "processing");
  });
  return executeErasure(engine, keys, store, actor, id);
}

/**
 * The erasure itself, in one transaction through the tenant door, ending in `completed` with a signed
 * certificate. Idempotent: re-running it on a processing request (after a crash) finishes the job.
 * It also deletes every export archive of the workspace (a copy of the person's data) and queues the
 * VACUUM of the tables it touched (which cannot run inside this transaction).
 */
export async function executeErasure(
  engine: Engine,
  keys: RtbfKeys,
  store: ArchiveStore,
  actor: Actor,
  id: string,
  hooks: { afterTable?: (table: string) => Promise<void> } = {},
): Promise<RtbfView> {
  return withTenant(engine, actor.workspaceId, async (tx) => {
    const request = await load(tx, actor.workspaceId, id);
    if (request.status === "completed") return getRequest(tx, actor.workspaceId, id);
    if (request.status !== "processing")
      throw new AppError("conflict", `a ${request.status} request is not being processed`);
    const email = request.subject_email;
    if (!email) throw new AppError("internal", "the request lost its subject email before erasure");
    const [user] = await tx.query<{ id: string }>("select id from users where email = $1", [email]);
    const userId = user?.id ?? null;
    const { results, accountDeleted } = await eraseSubject(
      tx,
      actor.workspaceId,
      email,
      userId,
      request.subject_ref,
      hooks,
    );
    const exports = await revokeExportsForErasure(tx, store, actor, id);
    const vacuumTables = erasedTables(results, accountDeleted);
    await enqueue(tx, actor.workspaceId, "rtbf.vacuum", { request_id: id });
    const completedAt = new Date().toISOString();
    const certificate = await signCertificate(keys.signer, {
      request_id: id,
      subject_ref: request.subject_ref,
      workspace_id: actor.workspaceId,
      received_at: request.received_at,
      completed_at: completedAt,
      account_deleted: accountDeleted,
      erased: results,
      // Archives deleted from storage (their links now answer 410), and builds restarted without the person.
      exports_removed: exports.removed,
      exports_invalidated: exports.invalidated,
      // Dead tuples: vacuumed after this commit (see the request's vacuum_status); WAL and backups age out.
      vacuum_scheduled: vacuumTables,
    });
    const result = {
      erased: results,
      account_deleted: accountDeleted,
      exports_removed: exports.removed,
      exports_invalidated: exports.invalidated,
    };
    await tx.query(
      `update rtbf_requests set status = 'completed', completed_at = $3, subject_email = null, result = $4::jsonb, certificate = $5,
              vacuum_status = 'pending', vacuum_tables = array(select jsonb_array_elements_text($6::jsonb)) where workspace_id = $1 and id = $2`,
      [actor.workspaceId, id, completedAt, JSON.stringify(result), certificate, JSON.stringify(vacuumTables)],
    );
    await record(tx, actor, id, request.subject_ref, "processing", "completed", {
      rows: results.reduce((a, r) => a + r.rows, 0),
    });
    // Beside the backups too, before this commits: a backup restored later must not bring the person back.
    await keys.ledger?.append({
      kind: "subject.erased",
      workspace_id: actor.workspaceId,
      request_id: id,
      subject_ref: request.subject_ref,
      user_id: userId,
    });
    return getRequest(tx, actor.workspaceId, id);
  });
}

export interface ErasedRows {
  results: { table: string; column: string; action: string; rows: number }[];
  accountDeleted: boolean;
}

/**
 * Every rule of the erasure map for one person in one workspace (inside its door), then the global account
 * when this was the person's last workspace. The erasure and its replay after a restore both run this.
 */
export async function eraseSubject(
  tx: Tx,
  workspaceId: string,
  email: string | null,
  userId: string | null,
  subjectRef: string,
  hooks: { afterTable?: (table: string) => Promise<void> } = {},
): Promise<ErasedRows> {
  const pseudonym = `erased:${subjectRef.slice(0, 16)}`;
  const results: ErasedRows["results"] = [];
  for (const rule of ERASURE_MAP) {
    const value = rule.matches === "email" ? email : userId;
    if (value === null) continue;
    const where = `workspace_id = $1 and ${rule.column} = $2`;
    const sql =
      rule.action === "delete_row"
        ? `delete from ${rule.table} where ${where} returning 1`
        : `update ${rule.table} set ${rule.column} = ${rule.action === "null" ? "null" : "$3"} where ${where} returning 1`;
    const params = rule.action === "pseudonymize" ? [workspaceId, value, pseudonym] : [workspaceId, value];
    const rows = rule.via
      ? Number((await tx.query<{ n: number }>(`select ${rule.via}($1, $2, $3) as n`, params))[0]?.n ?? 0)
      : (await tx.query(sql, params)).length;
    results.push({ table: rule.table, column: rule.column, action: rule.action, rows });
    await hooks.afterTable?.(rule.table);
  }
  let accountDeleted = false;
  if (userId) {
    const [gone] = await tx.query<{ deleted: boolean }>("select auth_erase_user_if_orphaned($1) as deleted", [userId]);
    accountDeleted = Boolean(gone?.deleted);
  }
  return { results, accountDeleted };
}

/** A compact JWS (EdDSA) with the server's audit signing key; verifiable with its JWKS. */
export function signCertificate(signer: Signer, claims: Record<string, unknown>): Promise<string> {
  return signJws(signer, "causeloop-erasure-certificate+jws", { type: "gdpr-art17-erasure-certificate", ...claims });
}

export async function certificate(
  tx: Tx,
  workspaceId: string,
  id: string,
): Promise<{ request_id: string; certificate: string; issued_at: string }> {
  const [row] = await tx.query<{ status: string; certificate: string | null; completed_at: Date | null }>(
    "select status, certificate, completed_at from rtbf_requests where workspace_id = $1 and id = $2",
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `erasure request ${id} not found`);
  if (row.status !== "completed" || !row.certificate)
    throw new AppError("conflict", `the certificate exists only for completed requests (this one is ${row.status})`, {
      status: row.status,
    });
  return { request_id: id, certificate: row.certificate, issued_at: iso(row.completed_at) as string };
}

/** Finishes erasures left in processing (a crash mid-way): the scheduler's rtbf job. */
export async function resumeProcessing(
  engine: Engine,
  keys: RtbfKeys,
  store: ArchiveStore,
): Promise<{ resumed: number }> {
  let resumed = 0;
  const workspaces = await engine.query<{ id: string }>("select active_workspace_ids() as id");
  for (const { id: ws } of workspaces) {
    const pending = await withTenant(engine, ws, (tx) =>
      tx.query<{ id: string }>("select id from rtbf_requests where workspace_id = $1 and status = 'processing'", [ws]),
    );
    for (const { id } of pending) {
      await executeErasure(
        engine,
        keys,
        store,
        { workspaceId: ws, actorId: "system:scheduler", actorType: "system", context: {} },
        id,
      );
      resumed++;
    }
  }
  return { resumed };
}
