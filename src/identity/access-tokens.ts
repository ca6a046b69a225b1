// Personal access tokens and service accounts. A token never carries more than its creator: its scopes must
// be a subset of the caller's, and its role is the caller's (or the service account's, which the caller may
// not set above their own).
import type { Static } from "elysia";
import type { Token } from "./schemas.ts";
import type { Principal } from "./auth.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit } from "../audit/service.ts";
import type { Actor } from "../audit/service.ts";
import { ROLE_SCOPES, type Role, type Scope } from "./permissions.ts";
import { assertCanGrant } from "./members.ts";
import { newPat } from "./tokens.ts";

/** The actor (audit's) with the authority its principal holds: what granting and listing tokens checks. */
export type Grantor = Actor & Pick<Principal, "role" | "scopes">;

/** A token as the API answers it (the contract's schema is the one definition). */
export type TokenView = Static<typeof Token>;

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

function checkScopes(caller: Grantor, scopes: string[], role: Role): void {
  const outside = scopes.filter((s) => !caller.scopes.has(s as Scope) || !ROLE_SCOPES[role].has(s as Scope));
  if (outside.length)
    throw new AppError("forbidden", `a token cannot carry scopes its creator does not have: ${outside.join(", ")}`);
}

async function insertToken(
  tx: Tx,
  caller: Grantor,
  input: {
    name: string;
    scopes: string[];
    expires_in_days?: number;
    role: Role;
    userId: string | null;
    serviceAccountId: string | null;
  },
): Promise<TokenView & { token: string }> {
  const id = newId("pat");
  const pat = newPat(caller.workspaceId);
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into personal_access_tokens (workspace_id, id, user_id, service_account_id, name, token_prefix, pat_hash, role, scopes, expires_at, created_by)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, case when $10::int is null then null else now() + make_interval(days => $10::int) end, $11)
     returning created_at, expires_at`,
    [
      caller.workspaceId,
      id,
      input.userId,
      input.serviceAccountId,
      input.name,
      pat.prefix,
      pat.hash,
      input.role,
      input.scopes,
      input.expires_in_days ?? null,
      caller.actorId,
    ],
  );
  await appendAudit(tx, {
    workspaceId: caller.workspaceId,
    action: "token.created",
    actorId: caller.actorId,
    actorType: caller.actorType,
    targetType: "personal_access_token",
    targetId: id,
    after: { name: input.name, scopes: input.scopes, role: input.role, service_account_id: input.serviceAccountId },
    context: caller.context,
  });
  return {
    id,
    name: input.name,
    prefix: pat.prefix,
    role: input.role,
    scopes: input.scopes,
    created_at: iso(row?.created_at) as string,
    last_used_at: null,
    expires_at: iso(row?.expires_at),
    revoked_at: null,
    service_account_id: input.serviceAccountId,
    token: pat.token,
  };
}

export function createPersonalToken(
  tx: Tx,
  caller: Grantor,
  input: { name: string; scopes: string[]; expires_in_days?: number },
) {
  if (caller.actorType !== "user")
    throw new AppError("forbidden", "service accounts get tokens through /v1/service-accounts/{id}/tokens");
  checkScopes(caller, input.scopes, caller.role);
  return insertToken(tx, caller, { ...input, role: caller.role, userId: caller.actorId, serviceAccountId: null });
}

/** Tokens, newest first: the caller's own, or every token of the workspace for a member manager. */
export async function listTokens(tx: Tx, caller: Grantor, query: PageQuery = {}): Promise<Page<TokenView>> {
  const all = caller.scopes.has("members:write");
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string }>(
    `select id, name, token_prefix as prefix, role, scopes, created_at, last_used_at, expires_at, revoked_at, service_account_id
       from personal_access_tokens where workspace_id = $1 and ($2 or user_id = $3) and ($4::text is null or id < $4)
      order by id desc limit $5`,
    [caller.workspaceId, all, caller.actorId, after, limit + 1],
  );
  return idPage(
    rows.map((r) => ({
      ...(r as unknown as TokenView),
      created_at: iso(r.created_at) as string,
      last_used_at: iso(r.last_used_at),
      expires_at: iso(r.expires_at),
      revoked_at: iso(r.revoked_at),
    })),
    limit,
  );
}

export async function revokeToken(tx: Tx, caller: Grantor, id: string): Promise<void> {
  const all = caller.scopes.has("members:write");
  const rows = await tx.query(
    "update personal_access_tokens set revoked_at = now(), revoked_reason = 'revoked' where workspace_id = $1 and id = $2 and revoked_at is null and ($3 or user_id = $4) returning id",
    [caller.workspaceId, id, all, caller.actorId],
  );
  if (!rows[0]) throw new AppError("not_found", `token ${id} not found`);
  await appendAudit(tx, {
    workspaceId: caller.workspaceId,
    action: "token.revoked",
    actorId: caller.actorId,
    actorType: caller.actorType,
    targetType: "personal_access_token",
    targetId: id,
    context: caller.context,
  });
}

/** How long a rotated token keeps working by default, so its holders can switch over (24 hours). */
export const DEFAULT_ROTATION_GRACE_MINUTES = 24 * 60;

/**
 * A new secret for a token: a successor with the same name, role and scopes (and the same lifetime), while the
 * old secret keeps working for `graceMinutes` (never longer than it would have). A person rotates their own
 * tokens; a member manager rotates service accounts' tokens (never another person's).
 */
export async function rotateToken(
  tx: Tx,
  caller: Grantor,
  id: string,
  graceMinutes = DEFAULT_ROTATION_GRACE_MINUTES,
): Promise<TokenView & { token: string; previous_expires_at: string }> {
  const [old] = await tx.query<{
    user_id: string | null;
    service_account_id: string | null;
    name: string;
    role: Role;
    scopes: string[];
    lifetime_days: number | null;
    rotated_to: string | null;
  }>(
    `select user_id, service_account_id, name, role, scopes, rotated_to,
            ceil(extract(epoch from expires_at - created_at) / 86400)::int as lifetime_days
       from personal_access_tokens
      where workspace_id = $1 and id = $2 and revoked_at is null and (expires_at is null or expires_at > now())
      for update`,
    [caller.workspaceId, id],
  );
  const mine = old?.user_id !== null && old?.user_id === caller.actorId;
  const managed = old?.service_account_id !== null && caller.scopes.has("members:write");
  if (!old || !(mine || managed)) throw new AppError("not_found", `token ${id} not found`);
  if (old.rotated_to)
    throw new AppError("conflict", `token ${id} was already rotated (its successor is ${old.rotated_to})`);
  assertCanGrant(caller.role, old.role);
  if (!old.scopes.includes("*")) checkScopes(caller, old.scopes, old.role);
  const successor = await insertToken(tx, caller, {
    name: old.name,
    scopes: old.scopes,
    expires_in_days: old.lifetime_days === null ? undefined : Math.max(1, old.lifetime_days),
    role: old.role,
    userId: old.user_id,
    serviceAccountId: old.service_account_id,
  });
  const [ended] = await tx.query<{ expires_at: Date }>(
    `update personal_access_tokens set rotated_to = $3,
            expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(mins => $4::int))
      where workspace_id = $1 and id = $2 returning expires_at`,
    [caller.workspaceId, id, successor.id, graceMinutes],
  );
  await appendAudit(tx, {
    workspaceId: caller.workspaceId,
    action: "token.rotated",
    actorId: caller.actorId,
    actorType: caller.actorType,
    targetType: "personal_access_token",
    targetId: id,
    after: { successor: successor.id, grace_minutes: graceMinutes },
    context: caller.context,
  });
  return { ...successor, previous_expires_at: new Date(ended?.expires_at as Date).toISOString() };
}

export async function createServiceAccount(
  tx: Tx,
  caller: Grantor,
  input: { name: string; role: Role },
): Promise<{ id: string; name: string; role: Role }> {
  assertCanGrant(caller.role, input.role);
  const id = newId("sa");
  const existing = await tx.query("select 1 from service_accounts where workspace_id = $1 and name = $2", [
    caller.workspaceId,
    input.name,
  ]);
  if (existing[0]) throw new AppError("conflict", `a service account named ${input.name} exists`);
  await tx.query(
    "insert into service_accounts (workspace_id, id, name, role, created_by) values ($1, $2, $3, $4, $5)",
    [caller.workspaceId, id, input.name, input.role, caller.actorId],
  );
  await appendAudit(tx, {
    workspaceId: caller.workspaceId,
    action: "service_account.created",
    actorId: caller.actorId,
    actorType: caller.actorType,
    targetType: "service_account",
    targetId: id,
    after: input,
    context: caller.context,
  });
  return { id, name: input.name, role: input.role };
}

/** Service accounts in the order they were created. */
export async function listServiceAccounts(
  tx: Tx,
  workspaceId: string,
  query: PageQuery = {},
): Promise<Page<{ id: string; name: string; role: string; created_at: string }>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<{ id: string; name: string; role: string; created_at: Date }>(
    `select id, name, role, created_at from service_accounts
      where workspace_id = $1 and deleted_at is null and ($2::text is null or id > $2) order by id limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(
    rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() })),
    limit,
  );
}

export async function createServiceAccountToken(
  tx: Tx,
  caller: Grantor,
  serviceAccountId: string,
  input: { name: string; scopes: string[]; expires_in_days?: number },
) {
  const [sa] = await tx.query<{ role: Role }>(
    "select role from service_accounts where workspace_id = $1 and id = $2 and deleted_at is null",
    [caller.workspaceId, serviceAccountId],
  );
  if (!sa) throw new AppError("not_found", `service account ${serviceAccountId} not found`);
  assertCanGrant(caller.role, sa.role);
  checkScopes(caller, input.scopes, sa.role);
  return insertToken(tx, caller, { ...input, role: sa.role, userId: null, serviceAccountId });
}
