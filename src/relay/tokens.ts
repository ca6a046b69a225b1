// Relay tokens: one relay agent's credential (clp_relay_...), bound to one workspace, stored as a sha256 hash
// like personal access tokens, shown once, rotatable (a new secret on the same id; the old one stops at once)
// and revocable (the relay's live connection is closed at its next heartbeat or query). It authenticates
// /v1/relay/connect of its workspace and nothing else.
import type { Queryable, Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { type Actor, auditActor } from "../audit/service.ts";
import { newToken, parseToken } from "../identity/tokens.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";

export interface RelayTokenView {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  rotated_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** How a token is recognised in lists: its kind and workspace, then its last characters (the first 16 are shared). */
const recognisable = (token: string) => `${token.slice(0, 16)}…${token.slice(-6)}`;
const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
const COLUMNS = "id, name, token_prefix as prefix, created_at, rotated_at, last_used_at, revoked_at";
const TIMES = ["created_at", "rotated_at", "last_used_at", "revoked_at"] as const;

function view(row: Record<string, unknown>): RelayTokenView {
  const out: Record<string, unknown> = { ...row };
  for (const name of TIMES) out[name] = iso(row[name]);
  return out as unknown as RelayTokenView;
}

export async function createRelayToken(
  tx: Tx,
  actor: Actor,
  input: { name: string },
): Promise<RelayTokenView & { token: string }> {
  const [taken] = await tx.query(
    "select 1 from relay_tokens where workspace_id = $1 and name = $2 and revoked_at is null",
    [actor.workspaceId, input.name],
  );
  if (taken) throw new AppError("conflict", `a relay token named ${input.name} already exists: revoke it or rotate it`);
  const id = newId("rlt");
  const secret = newToken("relay", actor.workspaceId);
  const [row] = await tx.query<Record<string, unknown>>(
    `insert into relay_tokens (workspace_id, id, name, token_prefix, token_hash, created_by)
     values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
    [actor.workspaceId, id, input.name, recognisable(secret.token), secret.hash, actor.actorId],
  );
  await auditActor(tx, actor, "relay_token.created", "relay_token", id, { name: input.name });
  return { ...view(row as Record<string, unknown>), token: secret.token };
}

/** The workspace's relay tokens, newest first (revoked ones too, for the record). */
export async function listRelayTokens(
  tx: Tx,
  workspaceId: string,
  query: PageQuery = {},
): Promise<Page<RelayTokenView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string }>(
    `select ${COLUMNS} from relay_tokens where workspace_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(rows.map(view), limit);
}

/** A new secret for the token (shown once); the previous secret stops working at once. */
export async function rotateRelayToken(tx: Tx, actor: Actor, id: string): Promise<RelayTokenView & { token: string }> {
  const secret = newToken("relay", actor.workspaceId);
  const [row] = await tx.query<Record<string, unknown>>(
    `update relay_tokens set token_hash = $3, token_prefix = $4, rotated_at = now()
      where workspace_id = $1 and id = $2 and revoked_at is null returning ${COLUMNS}`,
    [actor.workspaceId, id, secret.hash, recognisable(secret.token)],
  );
  if (!row) throw new AppError("not_found", `relay token ${id} not found`);
  await auditActor(tx, actor, "relay_token.rotated", "relay_token", id);
  return { ...view(row), token: secret.token };
}

export async function revokeRelayToken(tx: Tx, actor: Actor, id: string): Promise<void> {
  const rows = await tx.query(
    "update relay_tokens set revoked_at = now() where workspace_id = $1 and id = $2 and revoked_at is null returning id",
    [actor.workspaceId, id],
  );
  if (!rows[0]) throw new AppError("not_found", `relay token ${id} not found`);
  // Its connectors stop answering at once; the relay's socket is closed by its instance at the next beat.
  await tx.query(
    `update connectors set status = 'disabled', last_error = 'relay token revoked'
      where workspace_id = $1 and settings->>'relay_token_id' = $2 and deleted_at is null`,
    [actor.workspaceId, id],
  );
  await auditActor(tx, actor, "relay_token.revoked", "relay_token", id);
}

export const RELAY_UNAUTHORIZED = "missing, malformed or revoked relay token";

/** A relay token's workspace and sha256, or undefined when it is not one (no database round trip). */
export const parseRelayToken = (token: string) => parseToken("relay", token);

/** The live token row for a presented token (in its workspace's transaction), or undefined. */
export async function findRelayToken(
  tx: Queryable,
  workspaceId: string,
  hash: string,
): Promise<{ id: string; name: string } | undefined> {
  const [row] = await tx.query<{ id: string; name: string; ws_deleted_at: Date | null }>(
    `select t.id, t.name, w.deleted_at as ws_deleted_at from relay_tokens t join workspaces w on w.id = t.workspace_id
      where t.workspace_id = $1 and t.token_hash = $2 and t.revoked_at is null`,
    [workspaceId, hash],
  );
  if (!row || row.ws_deleted_at) return undefined;
  return { id: row.id, name: row.name };
}

/**
 * Whether the secret a relay connected with is still its token's (checked at each heartbeat): a revoked token,
 * a rotated one (the connection's secret is the old one) or a disabled workspace ends the connection.
 */
export async function relayTokenLive(
  tx: Queryable,
  workspaceId: string,
  tokenId: string,
  hash: string,
): Promise<boolean> {
  const [row] = await tx.query(
    `select 1 from relay_tokens t join workspaces w on w.id = t.workspace_id
      where t.workspace_id = $1 and t.id = $2 and t.token_hash = $3 and t.revoked_at is null and w.deleted_at is null`,
    [workspaceId, tokenId, hash],
  );
  return Boolean(row);
}
