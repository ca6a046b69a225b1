// Access reviews: an owner snapshots who and what can reach the workspace (members with role, last sign-in
// here and MFA; tokens and service accounts with scopes, age and last use; SSO connections; SCIM tokens), the
// reviewers mark each line keep or revoke, and completing the review applies the revocations in the same
// transaction, signs the result with the audit key (a JWS) and records it in the audit trail. No email is
// stored in a review: lines name ids, and reading a review joins the current email (gone once erased).
import type { Tx } from "../db/engine.ts";
import type { Engine } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { auditActor, type Actor } from "../audit/service.ts";
import { signJws, type Signer } from "../audit/signing.ts";
import { raiseAlert } from "../security/alerts.ts";
import { activeOwners, revokeWorkspaceAccess } from "./members.ts";
import type { Role } from "./permissions.ts";

export type LineKind = "member" | "token" | "service_account" | "sso_connection" | "scim_token";
export type Decision = "keep" | "revoke";

export interface ReviewLine {
  id: string;
  kind: LineKind;
  target_id: string;
  details: Record<string, unknown>;
  decision: Decision | null;
  decided_by: string | null;
  decided_at: string | null;
  applied_at: string | null;
}

export interface ReviewView {
  id: string;
  status: "open" | "completed";
  created_by: string | null;
  created_at: string;
  completed_by: string | null;
  completed_at: string | null;
  /** The signed result (a JWS by the audit key), once completed. */
  signature: string | null;
  key_id: string | null;
  lines?: ReviewLine[];
}

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

// What can reach the workspace, one query per kind; `details` is what a reviewer decides on.
const SNAPSHOT: [LineKind, string][] = [
  [
    "member",
    `select m.id as target_id, jsonb_build_object('user_id', m.user_id, 'role', m.role, 'status', m.status,
            'last_sign_in_at', (select max(s.created_at) from sessions s where s.workspace_id = m.workspace_id and s.user_id = m.user_id),
            'mfa_enabled', exists (select 1 from auth_mfa_get(m.user_id) f where f.confirmed_at is not null)
                        or exists (select 1 from mfa_factors f where f.workspace_id = m.workspace_id and f.user_id = m.user_id and f.confirmed_at is not null)) as details
       from memberships m where m.workspace_id = $1 and m.status in ('active', 'invited') order by m.id`,
  ],
  [
    "token",
    `select id as target_id, jsonb_build_object('name', name, 'role', role, 'scopes', scopes, 'user_id', user_id,
            'service_account_id', service_account_id, 'created_at', created_at, 'age_days', extract(day from now() - created_at)::int,
            'last_used_at', last_used_at, 'expires_at', expires_at) as details
       from personal_access_tokens where workspace_id = $1 and revoked_at is null and (expires_at is null or expires_at > now()) order by id`,
  ],
  [
    "service_account",
    `select id as target_id, jsonb_build_object('name', name, 'role', role, 'created_at', created_at,
            'age_days', extract(day from now() - created_at)::int) as details
       from service_accounts where workspace_id = $1 and deleted_at is null order by id`,
  ],
  [
    "sso_connection",
    `select id as target_id, jsonb_build_object('provider', provider, 'display_name', display_name, 'issuer', issuer,
            'jit_provisioning', jit_provisioning, 'default_role', default_role) as details
       from sso_connections where workspace_id = $1 and status = 'active' order by id`,
  ],
  [
    "scim_token",
    `select id as target_id, jsonb_build_object('name', name, 'role', role, 'created_at', created_at,
            'last_used_at', last_used_at) as details
       from scim_tokens where workspace_id = $1 and revoked_at is null order by id`,
  ],
];

function owner(actor: Actor & { role: Role }): void {
  if (actor.role !== "owner") throw new AppError("forbidden", "only an owner starts or completes an access review");
}

export async function startReview(tx: Tx, actor: Actor & { role: Role }): Promise<ReviewView> {
  owner(actor);
  const id = newId("arv");
  await tx.query("insert into access_reviews (workspace_id, id, created_by) values ($1, $2, $3)", [
    actor.workspaceId,
    id,
    actor.actorId,
  ]);
  let lines = 0;
  for (const [kind, sql] of SNAPSHOT) {
    const rows = await tx.query<{ target_id: string; details: Record<string, unknown> }>(sql, [actor.workspaceId]);
    for (const row of rows)
      await tx.query(
        "insert into access_review_items (workspace_id, id, review_id, kind, target_id, details) values ($1, $2, $3, $4, $5, $6::jsonb)",
        [actor.workspaceId, newId("ari"), id, kind, row.target_id, JSON.stringify(row.details)],
      );
    lines += rows.length;
  }
  await auditActor(tx, actor, "access_review.started", "access_review", id, { lines });
  return getReview(tx, actor.workspaceId, id);
}

const REVIEW = `select id, status, created_by, created_at, completed_by, completed_at, signature, key_id from access_reviews`;

function view(row: Record<string, unknown>): ReviewView {
  return {
    ...(row as unknown as ReviewView),
    created_at: iso(row.created_at) as string,
    completed_at: iso(row.completed_at),
  };
}

/** Reviews, newest first. */
export async function listReviews(tx: Tx, workspaceId: string, query: PageQuery = {}): Promise<Page<ReviewView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string }>(
    `${REVIEW} where workspace_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(
    rows.map((r) => view(r) as ReviewView & { id: string }),
    limit,
  );
}

/** One review with its lines; a member line shows the account's current email (null once erased). */
export async function getReview(tx: Tx, workspaceId: string, id: string): Promise<ReviewView> {
  const [row] = await tx.query<Record<string, unknown>>(`${REVIEW} where workspace_id = $1 and id = $2`, [
    workspaceId,
    id,
  ]);
  if (!row) throw new AppError("not_found", `access review ${id} not found`);
  const lines = await tx.query<ReviewLine & { email: string | null }>(
    `select i.id, i.kind, i.target_id, i.decision, i.decided_by, i.decided_at, i.applied_at,
            case when i.kind = 'member' then i.details || jsonb_build_object('email', u.email) else i.details end as details
       from access_review_items i left join users u on i.kind = 'member' and u.id = i.details ->> 'user_id'
      where i.workspace_id = $1 and i.review_id = $2 order by i.id`,
    [workspaceId, id],
  );
  return {
    ...view(row),
    lines: lines.map((l) => ({ ...l, decided_at: iso(l.decided_at), applied_at: iso(l.applied_at) })),
  };
}

export async function decide(
  tx: Tx,
  actor: Actor,
  id: string,
  decisions: { item_id: string; decision: Decision }[],
): Promise<ReviewView> {
  const [review] = await tx.query<{ status: string }>(
    "select status from access_reviews where workspace_id = $1 and id = $2 for update",
    [actor.workspaceId, id],
  );
  if (!review) throw new AppError("not_found", `access review ${id} not found`);
  if (review.status !== "open") throw new AppError("conflict", "this access review is completed");
  for (const d of decisions) {
    const updated = await tx.query(
      "update access_review_items set decision = $4, decided_by = $5, decided_at = now() where workspace_id = $1 and review_id = $2 and id = $3 returning id",
      [actor.workspaceId, id, d.item_id, d.decision, actor.actorId],
    );
    if (!updated[0]) throw new AppError("not_found", `line ${d.item_id} is not part of access review ${id}`);
  }
  await auditActor(tx, actor, "access_review.decided", "access_review", id, { decisions: decisions.length });
  return getReview(tx, actor.workspaceId, id);
}

/** Ends a grant the review revoked; false when it is already gone. */
async function revoke(tx: Tx, workspaceId: string, kind: LineKind, target: string): Promise<boolean> {
  const run = async (sql: string, params: unknown[] = []) =>
    (await tx.query(sql, [workspaceId, target, ...params])).length > 0;
  switch (kind) {
    case "member": {
      const [m] = await tx.query<{ user_id: string; role: string }>(
        "select user_id, role from memberships where workspace_id = $1 and id = $2 and status <> 'removed'",
        [workspaceId, target],
      );
      if (!m) return false;
      if (m.role === "owner" && (await activeOwners(tx, workspaceId)) <= 1)
        throw new AppError("conflict", "the review would remove the last owner: keep at least one");
      await revokeWorkspaceAccess(tx, workspaceId, m.user_id, "access_review");
      return true;
    }
    case "token":
      return run(
        "update personal_access_tokens set revoked_at = now(), revoked_reason = 'access_review' where workspace_id = $1 and id = $2 and revoked_at is null returning id",
      );
    case "service_account":
      await tx.query(
        "update personal_access_tokens set revoked_at = now(), revoked_reason = 'access_review' where workspace_id = $1 and service_account_id = $2 and revoked_at is null",
        [workspaceId, target],
      );
      return run(
        "update service_accounts set deleted_at = now() where workspace_id = $1 and id = $2 and deleted_at is null returning id",
      );
    case "sso_connection":
      return run(
        "update sso_connections set status = 'disabled' where workspace_id = $1 and id = $2 and status = 'active' returning id",
      );
    case "scim_token":
      return run(
        "update scim_tokens set revoked_at = now() where workspace_id = $1 and id = $2 and revoked_at is null returning id",
      );
  }
}

/** Applies every revoke, signs the result and closes the review; every line must be decided first. */
export async function completeReview(
  tx: Tx,
  signer: Signer,
  actor: Actor & { role: Role },
  id: string,
): Promise<ReviewView> {
  owner(actor);
  const review = await getReview(tx, actor.workspaceId, id);
  if (review.status !== "open") throw new AppError("conflict", "this access review is already completed");
  const lines = review.lines ?? [];
  const open = lines.filter((l) => !l.decision);
  if (open.length) throw new AppError("conflict", `${open.length} line(s) still need a decision (keep or revoke)`);
  const applied: string[] = [];
  for (const line of lines.filter((l) => l.decision === "revoke")) {
    if (!(await revoke(tx, actor.workspaceId, line.kind, line.target_id))) continue;
    applied.push(line.id);
    await tx.query("update access_review_items set applied_at = now() where workspace_id = $1 and id = $2", [
      actor.workspaceId,
      line.id,
    ]);
  }
  const [done] = await tx.query<{ completed_at: Date }>(
    "update access_reviews set status = 'completed', completed_by = $3, completed_at = now() where workspace_id = $1 and id = $2 returning completed_at",
    [actor.workspaceId, id, actor.actorId],
  );
  const result = {
    review_id: id,
    workspace_id: actor.workspaceId,
    started_at: review.created_at,
    started_by: review.created_by,
    completed_at: new Date(done?.completed_at as Date).toISOString(),
    completed_by: actor.actorId,
    lines: lines.map((l) => ({
      id: l.id,
      kind: l.kind,
      target_id: l.target_id,
      decision: l.decision,
      decided_by: l.decided_by,
    })),
    revoked: applied,
  };
  const signature = await signJws(signer, "causeloop-access-review+jws", { type: "access-review-result", ...result });
  await tx.query(
    "update access_reviews set result = $3::jsonb, signature = $4, key_id = $5 where workspace_id = $1 and id = $2",
    [actor.workspaceId, id, JSON.stringify(result), signature, signer.keyId],
  );
  await auditActor(tx, actor, "access_review.completed", "access_review", id, {
    lines: lines.length,
    revoked: applied.length,
    key_id: signer.keyId,
    signature_sha256: new Bun.CryptoHasher("sha256").update(signature).digest("hex"),
  });
  return getReview(tx, actor.workspaceId, id);
}

/** The signed result of a completed review: the JWS, its key id and the result it signs. */
export async function exportReview(
  tx: Tx,
  workspaceId: string,
  id: string,
): Promise<{ review_id: string; key_id: string; signature: string; result: Record<string, unknown> }> {
  const [row] = await tx.query<{
    result: Record<string, unknown> | null;
    signature: string | null;
    key_id: string | null;
  }>("select result, signature, key_id from access_reviews where workspace_id = $1 and id = $2", [workspaceId, id]);
  if (!row) throw new AppError("not_found", `access review ${id} not found`);
  if (!row.signature || !row.result || !row.key_id)
    throw new AppError("conflict", "the review is not completed yet: it has no signed result");
  return { review_id: id, key_id: row.key_id, signature: row.signature, result: row.result };
}

/**
 * The scheduled reminder (operator code: it enters each active workspace through the door): a workspace
 * whose last completed review is older than `days`, or that never completed one and is older than `days`,
 * gets the `access_review_due` security alert (deduplicated while open; its webhooks hear `security.alert`).
 */
export async function remindOverdueReviews(
  engine: Engine,
  days: number,
): Promise<{ workspaces: number; reminded: number }> {
  const ids = (await engine.query<{ id: string }>("select active_workspace_ids() as id")).map((r) => r.id);
  let reminded = 0;
  for (const ws of ids) {
    const due = await withTenant(engine, ws, async (tx) => {
      const [row] = await tx.query<{ last: Date | null; overdue: boolean }>(
        `select max(r.completed_at) as last,
                coalesce(max(r.completed_at), w.created_at) < now() - make_interval(days => $2::int) as overdue
           from workspaces w left join access_reviews r on r.workspace_id = w.id and r.status = 'completed'
          where w.id = $1 group by w.created_at`,
        [ws, days],
      );
      if (!row?.overdue) return false;
      await raiseAlert(tx, ws, {
        rule: "access_review_due",
        summary: row.last
          ? `the last completed access review is older than ${days} days`
          : `no access review has been completed in the workspace's first ${days} days`,
        details: { last_completed_at: iso(row.last), interval_days: days },
        dedupKey: "access_review_due",
      });
      return true;
    });
    if (due) reminded++;
  }
  return { workspaces: ids.length, reminded };
}
