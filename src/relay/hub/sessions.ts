// The relays' connections as the database records them: one session per socket, the connectors each offered
// database appears as, and the liveness rule every instance applies (a session is live while its socket's
// instance keeps its heartbeat fresh).
import type { Queryable, Tx } from "../../db/engine.ts";
import { newId } from "../../ids.ts";
import { auditActor, type RequestContext } from "../../audit/service.ts";
import type { DatabaseKind } from "../types.ts";

/** Missed beats after which a session whose instance died counts as gone. */
export const HEARTBEAT_SECONDS = 10;
export const LIVE_SECONDS = HEARTBEAT_SECONDS * 3 + 5;

export const CONNECTOR_TYPES: Record<DatabaseKind, string> = {
  postgres: "postgresql_relay",
  mongodb: "mongodb_relay",
  dynamodb: "dynamodb",
};
export const RELAY_CONNECTOR_TYPES = Object.values(CONNECTOR_TYPES);

export interface OpenedSession {
  sessionId: string;
  connectors: Array<{ id: string; database: string; kind: DatabaseKind }>;
}

/**
 * Records a new connection of the token's relay: its earlier sessions end, each offered database is (re)made
 * a connector named `<relay>/<database>` and marked active, and the audit trail says so.
 */
export async function openSession(
  tx: Tx,
  input: {
    workspaceId: string;
    tokenId: string;
    relayName: string;
    instanceId: string;
    agentVersion: string;
    databases: Array<{ name: string; kind: DatabaseKind }>;
    ip?: string;
    context: RequestContext;
  },
): Promise<OpenedSession> {
  const ws = input.workspaceId;
  await tx.query(
    "update relay_sessions set disconnected_at = now() where workspace_id = $1 and token_id = $2 and disconnected_at is null",
    [ws, input.tokenId],
  );
  const sessionId = newId("rls");
  await tx.query(
    `insert into relay_sessions (workspace_id, id, token_id, instance_id, agent_version, databases, remote_ip)
     values ($1, $2, $3, $4, $5, $6::jsonb, $7::inet)`,
    [
      ws,
      sessionId,
      input.tokenId,
      input.instanceId,
      input.agentVersion,
      JSON.stringify(input.databases),
      input.ip ?? null,
    ],
  );
  const connectors: OpenedSession["connectors"] = [];
  for (const db of input.databases) {
    const type = CONNECTOR_TYPES[db.kind];
    const displayName = `${input.relayName}/${db.name}`;
    const [existing] = await tx.query<{ id: string }>(
      `select id from connectors where workspace_id = $1 and settings->>'relay_token_id' = $2
          and settings->>'database' = $3 and deleted_at is null`,
      [ws, input.tokenId, db.name],
    );
    const settings = JSON.stringify({ relay_token_id: input.tokenId, database: db.name, kind: db.kind });
    let id = existing?.id;
    if (id)
      await tx.query(
        `update connectors set type = $3, display_name = $4, status = 'active', last_error = null,
                settings = $5::jsonb, last_synced_at = now() where workspace_id = $1 and id = $2`,
        [ws, id, type, displayName, settings],
      );
    else {
      id = newId("con");
      await tx.query(
        `insert into connectors (workspace_id, id, type, display_name, status, settings, last_synced_at, created_by)
         values ($1, $2, $3, $4, 'active', $5::jsonb, now(), $6)`,
        [ws, id, type, displayName, settings, input.tokenId],
      );
    }
    connectors.push({ id, database: db.name, kind: db.kind });
  }
  const actor = { workspaceId: ws, actorId: input.tokenId, actorType: "token" as const, context: input.context };
  await auditActor(tx, actor, "relay.connected", "relay_session", sessionId, {
    relay: input.relayName,
    agent_version: input.agentVersion,
    databases: input.databases,
    instance_id: input.instanceId,
  });
  return { sessionId, connectors };
}

/** The socket closed: the session ends and its connectors wait for the relay to come back. */
export async function closeSession(tx: Tx, workspaceId: string, sessionId: string, reason: string): Promise<void> {
  const [row] = await tx.query<{ token_id: string }>(
    `update relay_sessions set disconnected_at = now() where workspace_id = $1 and id = $2 and disconnected_at is null
     returning token_id`,
    [workspaceId, sessionId],
  );
  if (!row) return;
  await tx.query(
    `update connectors set status = 'pending', last_error = $3
      where workspace_id = $1 and settings->>'relay_token_id' = $2 and status = 'active' and deleted_at is null
        and not exists (select 1 from relay_sessions s where s.workspace_id = $1 and s.token_id = $2
                          and s.disconnected_at is null)`,
    [workspaceId, row.token_id, `relay disconnected: ${reason}`.slice(0, 300)],
  );
  await auditActor(
    tx,
    { workspaceId, actorId: row.token_id, actorType: "token", context: {} },
    "relay.disconnected",
    "relay_session",
    sessionId,
    { reason: reason.slice(0, 200) },
  );
}

export async function beat(tx: Queryable, workspaceId: string, sessionId: string): Promise<boolean> {
  const rows = await tx.query(
    `update relay_sessions set last_heartbeat_at = now()
      where workspace_id = $1 and id = $2 and disconnected_at is null returning id`,
    [workspaceId, sessionId],
  );
  return rows.length > 0;
}

export interface LiveSession {
  session_id: string;
  instance_id: string;
  token_id: string;
  relay_name: string;
}

/** The live session of the token's relay, if any (the newest; its instance's heartbeat is fresh). */
export async function liveSession(
  tx: Queryable,
  workspaceId: string,
  tokenId: string,
): Promise<LiveSession | undefined> {
  const [row] = await tx.query<LiveSession>(
    `select s.id as session_id, s.instance_id, s.token_id, t.name as relay_name
       from relay_sessions s join relay_tokens t on t.workspace_id = s.workspace_id and t.id = s.token_id
      where s.workspace_id = $1 and s.token_id = $2 and s.disconnected_at is null and t.revoked_at is null
        and s.last_heartbeat_at > now() - make_interval(secs => $3)
      order by s.connected_at desc limit 1`,
    [workspaceId, tokenId, LIVE_SECONDS],
  );
  return row;
}
