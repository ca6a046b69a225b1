// What the API shows of relays: their connections (GET /v1/relays) and a query's record (GET /v1/relay-queries/{id}).
import type { Static } from "elysia";
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { LIVE_SECONDS } from "./hub/sessions.ts";
import type { Relay, RelayQueryRecord } from "./schemas.ts";

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

/** The workspace's relay connections, newest first; `connected` while the socket is open and beating. */
export async function listRelays(
  tx: Tx,
  workspaceId: string,
  query: PageQuery = {},
): Promise<Page<Static<typeof Relay>>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string; live: boolean }>(
    `select s.id, t.name, s.token_id, s.agent_version, s.databases, s.instance_id, s.connected_at,
            s.last_heartbeat_at, s.disconnected_at,
            (s.disconnected_at is null and t.revoked_at is null
              and s.last_heartbeat_at > now() - make_interval(secs => $4)) as live
       from relay_sessions s join relay_tokens t on t.workspace_id = s.workspace_id and t.id = s.token_id
      where s.workspace_id = $1 and ($2::text is null or s.id < $2) order by s.id desc limit $3`,
    [workspaceId, after, limit + 1, LIVE_SECONDS],
  );
  return idPage(rows.map(relayView), limit);
}

function relayView(r: Record<string, unknown>) {
  return {
    id: String(r.id),
    relay: String(r.name),
    token_id: String(r.token_id),
    status: r.live ? ("connected" as const) : ("disconnected" as const),
    agent_version: String(r.agent_version),
    databases: r.databases as Static<typeof Relay>["databases"],
    instance_id: String(r.instance_id),
    connected_at: iso(r.connected_at) as string,
    last_heartbeat_at: iso(r.last_heartbeat_at) as string,
    disconnected_at: iso(r.disconnected_at),
  };
}

export async function getRelayQuery(tx: Tx, workspaceId: string, id: string): Promise<Static<typeof RelayQueryRecord>> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select id, connector_id, status, fingerprint, row_count, duration_ms, requested_by, created_at, finished_at,
            case when store then response end as result
       from relay_queries where workspace_id = $1 and id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `relay query ${id} not found`);
  return {
    id: String(row.id),
    connector_id: String(row.connector_id),
    status: row.status as Static<typeof RelayQueryRecord>["status"],
    fingerprint: (row.fingerprint as string | null) ?? null,
    row_count: (row.row_count as number | null) ?? null,
    duration_ms: (row.duration_ms as number | null) ?? null,
    requested_by: (row.requested_by as string | null) ?? null,
    created_at: iso(row.created_at) as string,
    finished_at: iso(row.finished_at),
    result: (row.result as Static<typeof RelayQueryRecord>["result"]) ?? null,
  };
}
