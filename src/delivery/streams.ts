// Audit streams as a workspace's admins manage them: where the trail goes, in which format, how far it got.
// The collector's token is sealed with the workspace key and never returned.
import type { Static } from "elysia";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import { redactUrlCredentials } from "../net/user-url.ts";
import type { SecretBox } from "../secrets/envelope.ts";
import type { AuditStream } from "./schemas.ts";
import type { StreamFormat } from "./audit-stream.ts";

export type AuditStreamView = Static<typeof AuditStream>;

const iso = (value: unknown) => (value ? new Date(value as string).toISOString() : null);
const COLUMNS = `s.id, s.url, s.format, s.token_encrypted is not null as has_token, s.batch_size, s.cursor_seq::float8 as cursor_seq,
  (select coalesce(max(a.seq), 0)::float8 from audit_log a where a.workspace_id = s.workspace_id) as head_seq,
  s.status, s.failure_count, s.last_status, s.last_error, s.last_sent_at, s.created_at`;

function view(row: Record<string, unknown>): AuditStreamView {
  return {
    id: row.id as string,
    url: redactUrlCredentials(row.url as string),
    format: row.format as string,
    has_token: Boolean(row.has_token),
    batch_size: Number(row.batch_size),
    cursor_seq: Number(row.cursor_seq),
    lag: Math.max(0, Number(row.head_seq) - Number(row.cursor_seq)),
    status: row.status as string,
    failure_count: Number(row.failure_count),
    last_status: row.last_status === null ? null : Number(row.last_status),
    last_error: (row.last_error as string | null) ?? null,
    last_sent_at: iso(row.last_sent_at),
    created_at: iso(row.created_at) as string,
  };
}

async function one(tx: Tx, workspaceId: string, id: string): Promise<AuditStreamView> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from audit_streams s where s.workspace_id = $1 and s.id = $2 and s.deleted_at is null`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `audit stream ${id} not found`);
  return view(row);
}

export async function createAuditStream(
  tx: Tx,
  box: SecretBox,
  actor: Actor,
  input: { url: string; format?: StreamFormat; token?: string; batch_size?: number; from?: "start" | "now" },
): Promise<AuditStreamView> {
  const id = newId("ast");
  const sealed = input.token
    ? await box.seal({ table: "audit_streams", column: "token_encrypted", rowId: id }, input.token)
    : null;
  // From the start (the whole trail) by default; "now" streams only what happens from here on.
  await tx.query(
    `insert into audit_streams (workspace_id, id, url, format, token_encrypted, batch_size, cursor_seq, created_by)
     values ($1, $2, $3, $4, $5, $6,
             case when $7 = 'now' then (select coalesce(max(seq), 0) from audit_log where workspace_id = $1) else 0 end, $8)`,
    [
      actor.workspaceId,
      id,
      input.url,
      input.format ?? "json",
      sealed,
      input.batch_size ?? 500,
      input.from ?? "start",
      actor.actorId,
    ],
  );
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "audit_stream.created",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "audit_stream",
    targetId: id,
    after: { url: input.url, format: input.format ?? "json", from: input.from ?? "start" },
    context: actor.context,
  });
  return one(tx, actor.workspaceId, id);
}

export async function listAuditStreams(
  tx: Tx,
  workspaceId: string,
  query: PageQuery = {},
): Promise<Page<AuditStreamView>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS} from audit_streams s
      where s.workspace_id = $1 and s.deleted_at is null and ($2::text is null or s.id < $2) order by s.id desc limit $3`,
    [workspaceId, after, limit + 1],
  );
  return idPage(rows.map(view), limit);
}

export const getAuditStream = one;

export async function deleteAuditStream(tx: Tx, actor: Actor, id: string): Promise<void> {
  const rows = await tx.query(
    "update audit_streams set deleted_at = now(), token_encrypted = null where workspace_id = $1 and id = $2 and deleted_at is null returning id",
    [actor.workspaceId, id],
  );
  if (!rows[0]) throw new AppError("not_found", `audit stream ${id} not found`);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "audit_stream.deleted",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "audit_stream",
    targetId: id,
    context: actor.context,
  });
}
