// The compliance log: evidence of retention runs, erasure transitions, exports and offboardings.
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";

export interface ComplianceEntry {
  id: string;
  kind: string;
  subject_ref: string | null;
  actor_id: string | null;
  details: unknown;
  created_at: string;
}

export async function listComplianceLog(tx: Tx, workspaceId: string, filter: { kind?: string; from?: string; to?: string; limit?: number; cursor?: string }): Promise<{ data: ComplianceEntry[]; next_cursor: string | null }> {
  const limit = filter.limit ?? 50;
  const where = ["workspace_id = $1"];
  const params: unknown[] = [workspaceId];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace("?", `$${params.length}`));
  };
  if (filter.kind) add("kind = ?", filter.kind);
  for (const [name, op] of [["from", ">="], ["to", "<"]] as const) {
    const value = filter[name];
    if (value === undefined) continue;
    if (Number.isNaN(Date.parse(value))) throw new AppError("validation_failed", `${name} must be an ISO 8601 time`);
    add(`created_at ${op} ?::timestamptz`, new Date(value).toISOString());
  }
  if (filter.cursor) {
    const [at, id] = Buffer.from(filter.cursor, "base64url").toString("utf8").split("|");
    if (!at || !id || Number.isNaN(Date.parse(at))) throw new AppError("validation_failed", "cursor is not valid; use next_cursor from the previous page");
    params.push(at, id);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(limit + 1);
  const rows = await tx.query<ComplianceEntry & { created_at: Date }>(`select id, kind, subject_ref, actor_id, details, created_at from compliance_log where ${where.join(" and ")} order by created_at desc, id desc limit $${params.length}`, params);
  const data = rows.slice(0, limit).map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? Buffer.from(`${last.created_at}|${last.id}`).toString("base64url") : null };
}
