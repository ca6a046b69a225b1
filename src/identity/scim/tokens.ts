// SCIM bearer tokens: one workspace's provisioning credential (clp_scim_...), stored as a sha256 hash like
// personal access tokens, shown once, rotatable (a new secret on the same id; the old one stops at once) and
// revocable. It authenticates /scim/v2 of its workspace only; personal access tokens and sessions do not.
import type { Tx } from "../../db/engine.ts";
import type { TenantDoor } from "../../db/tenant.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { appendAudit, type Actor, type RequestContext } from "../../audit/service.ts";
import { newToken, parseToken } from "../tokens.ts";
import type { Role } from "../permissions.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../../db/where.ts";

export interface ScimTokenView {
  id: string;
  name: string;
  prefix: string;
  role: "owner" | "admin";
  created_at: string;
  rotated_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Who a SCIM request acts as: the token, with the authority of the owner or admin who created it. */
export interface ScimCaller {
  workspaceId: string;
  tokenId: string;
  role: "owner" | "admin";
  actor: Actor;
}

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
const VIEW = `select id, name, token_prefix as prefix, role, created_at, rotated_at, last_used_at, revoked_at from scim_tokens`;

const TIMES = ["created_at", "rotated_at", "last_used_at", "revoked_at"] as const;

function view(row: Record<string, unknown>): ScimTokenView {
  const out: Record<string, unknown> = { ...row };
  for (const name of TIMES) out[name] = iso(row[name]);
  return out as unknown as ScimTokenView;
}

function authority(role: Role): "owner" | "admin" {
  if (role !== "owner" && role !== "admin")
    throw new AppError("forbidden", "only an owner or an admin manages SCIM tokens");
  return role;
}

export async function createScimToken(
  tx: Tx,
  actor: Actor & { role: Role },
  input: { name: string },
): Promise<ScimTokenView & { token: string }> {
  const role = authority(actor.role);
  const id = newId("sct");
  const secret = newToken("scim", actor.workspaceId);
  await tx.query(
    "insert into scim_tokens (workspace_id, id, name, role, token_prefix, token_hash, created_by) values ($1, $2, $3, $4, $5, $6, $7)",
    [actor.workspaceId, id, input.name, role, secret.prefix, secret.hash, actor.actorId],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "scim_token.created",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "scim_token",
    targetId: id,
    after: { name: input.name, role },
    context: actor.context,
  });
  const [row] = await tx.query<Record<string, unknown>>(`${VIEW} where workspace_id = $1 and id = $2`, [
    actor.workspaceId,
    id,
  ]);
  return { ...view(row as Record<string, unknown>), token: secret.token };
}

/** The workspace's SCIM tokens, newest first (revoked ones too, for the record). */
export async function listScimTokens(tx: Tx, workspaceId: string, query: PageQuery = {}): Promise<Page<ScimTokenView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string }>(
    `${VIEW} where workspace_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(rows.map(view), limit);
}

/** A new secret for the token (shown once); the previous secret stops working at once. */
export async function rotateScimToken(
  tx: Tx,
  actor: Actor & { role: Role },
  id: string,
): Promise<ScimTokenView & { token: string }> {
  authority(actor.role);
  const secret = newToken("scim", actor.workspaceId);
  const [row] = await tx.query<Record<string, unknown>>(
    `update scim_tokens set token_hash = $3, token_prefix = $4, rotated_at = now()
      where workspace_id = $1 and id = $2 and revoked_at is null
      returning id, name, token_prefix as prefix, role, created_at, rotated_at, last_used_at, revoked_at`,
    [actor.workspaceId, id, secret.hash, secret.prefix],
  );
  if (!row) throw new AppError("not_found", `SCIM token ${id} not found`);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "scim_token.rotated",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "scim_token",
    targetId: id,
    context: actor.context,
  });
  return { ...view(row), token: secret.token };
}

export async function revokeScimToken(tx: Tx, actor: Actor, id: string): Promise<void> {
  const rows = await tx.query(
    "update scim_tokens set revoked_at = now() where workspace_id = $1 and id = $2 and revoked_at is null returning id",
    [actor.workspaceId, id],
  );
  if (!rows[0]) throw new AppError("not_found", `SCIM token ${id} not found`);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "scim_token.revoked",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "scim_token",
    targetId: id,
    context: actor.context,
  });
}

const UNAUTHORIZED = "missing, malformed or revoked SCIM token";

/**
 * Runs `fn` in the SCIM token's workspace, in one transaction with the token's check: the only door to
 * /scim/v2. A personal access token or a session is refused here, as a SCIM token is everywhere else.
 */
export async function withScimToken<T>(
  door: TenantDoor,
  authorization: string | null,
  context: RequestContext,
  fn: (tx: Tx, caller: ScimCaller) => Promise<T>,
  /** Rate limits, as for every credential: given a door that reuses this transaction. */
  admitted?: (caller: ScimCaller, door: TenantDoor) => Promise<void>,
): Promise<T> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  const parsed = bearer ? parseToken("scim", bearer) : undefined;
  if (!parsed) throw new AppError("unauthorized", UNAUTHORIZED);
  return door(parsed.workspaceId, async (tx) => {
    const [row] = await tx.query<{
      id: string;
      role: "owner" | "admin";
      revoked_at: Date | null;
      ws_deleted_at: Date | null;
      last_used_at: Date | null;
    }>(
      `select t.id, t.role, t.revoked_at, t.last_used_at, w.deleted_at as ws_deleted_at
         from scim_tokens t join workspaces w on w.id = t.workspace_id
        where t.workspace_id = $1 and t.token_hash = $2`,
      [parsed.workspaceId, parsed.hash],
    );
    if (!row || row.revoked_at) throw new AppError("unauthorized", UNAUTHORIZED);
    if (row.ws_deleted_at)
      throw new AppError(
        "workspace_disabled",
        "this workspace is disabled (offboarded); contact your Causeloop operator",
      );
    if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000)
      await tx.query("update scim_tokens set last_used_at = now() where workspace_id = $1 and id = $2", [
        parsed.workspaceId,
        row.id,
      ]);
    const caller: ScimCaller = {
      workspaceId: parsed.workspaceId,
      tokenId: row.id,
      role: row.role,
      actor: { workspaceId: parsed.workspaceId, actorId: row.id, actorType: "token", context },
    };
    const here: TenantDoor = (ws, work) => (ws === caller.workspaceId ? work(tx) : door(ws, work));
    await admitted?.(caller, here);
    return fn(tx, caller);
  });
}
