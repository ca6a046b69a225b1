// The state of single sign-ons in flight, kept in the database so that any instance of a stateless fleet
// can finish a flow another one started: OIDC state/nonce/PKCE verifier and SAML request ids (one-time,
// consumed by the callback), and the SAML assertion ids already used (refused when replayed). Keys are stored
// as SHA-256 hashes; expired rows of the workspace are removed whenever a new flow starts.
import type { Tx } from "../../db/engine.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { sha256Hex } from "../tokens.ts";

/** How long a sign-in may take between the redirect to the IdP and the callback. */
export const FLOW_MINUTES = 10;

type Door = <T>(workspaceId: string, fn: (tx: Tx) => Promise<T>) => Promise<T>;
/** Resolves the workspace of an active connection of a live workspace (anonymous, through a definer function). */
type Anonymous = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

export async function workspaceOfConnection(anonymous: Anonymous, connectionId: string): Promise<string> {
  const [row] = await anonymous((tx) =>
    tx.query<{ ws: string | null }>("select auth_sso_connection_workspace($1) as ws", [connectionId]),
  );
  if (!row?.ws) throw new AppError("not_found", "no such SSO connection");
  return row.ws;
}

/** Expired flows and replay-cache entries of one workspace, counted or removed (also by the retention job). */
export async function expiredFlowRows(tx: Tx, ws: string, remove: boolean): Promise<number> {
  let n = 0;
  for (const table of ["sso_login_states", "sso_assertion_ids"]) {
    const rows = await tx.query<{ n: number }>(
      remove
        ? `with gone as (delete from ${table} where workspace_id = $1 and expires_at < now() returning 1) select count(*)::int as n from gone`
        : `select count(*)::int as n from ${table} where workspace_id = $1 and expires_at < now()`,
      [ws],
    );
    n += rows[0]?.n ?? 0;
  }
  return n;
}

export interface FlowState {
  nonce: string | null;
  code_verifier: string | null;
  /** The signed-in member linking this IdP identity to their account (null: a sign-in). */
  link_user_id?: string | null;
}

export async function saveFlow(
  door: Door,
  ws: string,
  connectionId: string,
  key: string,
  state: FlowState,
): Promise<void> {
  await door(ws, async (tx) => {
    await expiredFlowRows(tx, ws, true);
    await tx.query(
      `insert into sso_login_states (workspace_id, id, connection_id, state_hash, nonce, code_verifier, link_user_id, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(mins => $8))`,
      [
        ws,
        newId("sls"),
        connectionId,
        sha256Hex(key),
        state.nonce,
        state.code_verifier,
        state.link_user_id ?? null,
        FLOW_MINUTES,
      ],
    );
  });
}

/** When a live flow started (ISO time), without consuming it (SAML's request-id check reads, then removes). */
export async function flowStartedAt(
  door: Door,
  ws: string,
  connectionId: string,
  key: string,
): Promise<string | undefined> {
  const [row] = await door(ws, (tx) =>
    tx.query<{ created_at: Date }>(
      "select created_at from sso_login_states where workspace_id = $1 and connection_id = $2 and state_hash = $3 and expires_at > now()",
      [ws, connectionId, sha256Hex(key)],
    ),
  );
  return row ? new Date(row.created_at).toISOString() : undefined;
}

/** Consumes the flow (in its own transaction: a state is used once, whether the sign-in then succeeds or not). */
export async function consumeFlow(
  door: Door,
  ws: string,
  connectionId: string,
  key: string,
): Promise<FlowState | undefined> {
  const [row] = await door(ws, (tx) =>
    tx.query<FlowState & { live: boolean }>(
      `delete from sso_login_states where workspace_id = $1 and connection_id = $2 and state_hash = $3
       returning nonce, code_verifier, link_user_id, expires_at > now() as live`,
      [ws, connectionId, sha256Hex(key)],
    ),
  );
  return row?.live ? { nonce: row.nonce, code_verifier: row.code_verifier, link_user_id: row.link_user_id } : undefined;
}

/** Records a SAML assertion id until it expires; false when it was already used (a replay). */
export async function firstUseOfAssertion(
  door: Door,
  ws: string,
  connectionId: string,
  assertionId: string,
  expiresAt: Date,
): Promise<boolean> {
  const rows = await door(ws, (tx) =>
    tx.query(
      `insert into sso_assertion_ids (workspace_id, id, connection_id, expires_at) values ($1, $2, $3, $4)
       on conflict (workspace_id, id) do nothing returning id`,
      [ws, sha256Hex(`${connectionId}:${assertionId}`), connectionId, expiresAt],
    ),
  );
  return rows.length > 0;
}
