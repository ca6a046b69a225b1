// The compliance log: evidence of retention runs, erasure transitions, exports and offboardings.
import type { Tx } from "../db/engine.ts";
import { cursorOf, pageLimit, Where } from "../db/where.ts";

export interface ComplianceEntry {
  id: string;
  kind: string;
  subject_ref: string | null;
  actor_id: string | null;
  details: unknown;
  created_at: string;
}

export async function listComplianceLog(
  tx: Tx,
  workspaceId: string,
  filter: { kind?: string; from?: string; to?: string; limit?: number; cursor?: string },
): Promise<{ data: ComplianceEntry[]; next_cursor: string | null }> {
  const limit = pageLimit(filter.limit, 500);
  const where = new Where("workspace_id = ?", workspaceId)
    .maybe("kind = ?", filter.kind)
    .time("from", "created_at", ">=", filter.from)
    .time("to", "created_at", "<", filter.to)
    .afterCursor(filter.cursor);
  const rows = await tx.query<ComplianceEntry & { created_at: Date; cursor_at: string }>(
    `select id, kind, subject_ref, actor_id, details, created_at, audit_time(created_at) as cursor_at from compliance_log where ${where} order by created_at desc, id desc limit ${where.param(limit + 1)}`,
    where.params,
  );
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const data = page.map(({ cursor_at: _, ...r }) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
  return { data, next_cursor: rows.length > limit && last ? cursorOf(last.cursor_at, last.id) : null };
}
