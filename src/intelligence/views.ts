// What the API shows of patterns, predictions and recommendations, and the engineers' feedback on them.
import { auditActor, type Actor } from "../audit/service.ts";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { AppError } from "../errors.ts";

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);

export interface PatternView {
  id: string;
  cluster_id: string | null;
  kind: string;
  name: string;
  description: string;
  status: string;
  risk_score: number;
  evidence: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface PredictionView {
  id: string;
  pattern_id: string;
  cluster_id: string | null;
  window_start: string | null;
  window_end: string | null;
  confidence: number;
  explanation: string;
  outcome: string;
  scored_at: string | null;
  created_at: string;
}

export interface RecommendationView {
  id: string;
  kind: string;
  title: string;
  body: string;
  status: string;
  cluster_id: string | null;
  issue_id: string | null;
  pattern_id: string | null;
  evidence: Record<string, unknown>;
  decided_at: string | null;
  created_at: string;
}

const PATTERN = `id, cluster_id, kind, name, description, status, risk_score::float8 as risk_score, evidence, created_at, updated_at`;
const PREDICTION = `id, pattern_id, cluster_id, window_start, window_end, probability::float8 as confidence, explanation, outcome, scored_at, created_at`;
const RECOMMENDATION = `id, kind, title, body, status, cluster_id, issue_id, pattern_id, evidence, decided_at, created_at`;

const pattern = (r: Record<string, unknown>): PatternView =>
  ({ ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }) as PatternView;
const prediction = (r: Record<string, unknown>): PredictionView =>
  ({
    ...r,
    window_start: iso(r.window_start),
    window_end: iso(r.window_end),
    scored_at: iso(r.scored_at),
    created_at: iso(r.created_at),
  }) as PredictionView;
const recommendation = (r: Record<string, unknown>): RecommendationView =>
  ({ ...r, decided_at: iso(r.decided_at), created_at: iso(r.created_at) }) as RecommendationView;

/** One keyset page of a table's live rows, newest first, with equality filters. */
async function page<T extends { id: string }>(
  tx: Tx,
  table: string,
  columns: string,
  workspaceId: string,
  query: PageQuery,
  filters: Record<string, string | undefined>,
  map: (row: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const { limit, after } = idKeyset(query);
  const params: unknown[] = [workspaceId, after];
  const where = Object.entries(filters)
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => {
      params.push(value);
      return `and ${column} = $${params.length}`;
    })
    .join(" ");
  params.push(limit + 1);
  const rows = await tx.query<Record<string, unknown>>(
    `select ${columns} from ${table} where workspace_id = $1 and deleted_at is null and ($2::text is null or id < $2) ${where}
      order by id desc limit $${params.length}`,
    params,
  );
  return idPage(rows.map(map), limit);
}

async function one<T>(
  tx: Tx,
  table: string,
  columns: string,
  what: string,
  ws: string,
  id: string,
  map: (r: Record<string, unknown>) => T,
) {
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${columns} from ${table} where workspace_id = $1 and id = $2 and deleted_at is null`,
    [ws, id],
  );
  if (!row) throw new AppError("not_found", `${what} ${id} not found`);
  return map(row);
}

export const listPatterns = (
  tx: Tx,
  ws: string,
  q: PageQuery & { status?: string; kind?: string; cluster_id?: string },
) => page(tx, "patterns", PATTERN, ws, q, { status: q.status, kind: q.kind, cluster_id: q.cluster_id }, pattern);
export const getPattern = (tx: Tx, ws: string, id: string) => one(tx, "patterns", PATTERN, "pattern", ws, id, pattern);

export async function listPredictions(
  tx: Tx,
  ws: string,
  q: PageQuery & { outcome?: string; cluster_id?: string },
): Promise<Page<PredictionView> & { hit_rate: { hit: number; miss: number; rate: number | null } }> {
  const result = await page(
    tx,
    "predictions",
    PREDICTION,
    ws,
    q,
    { outcome: q.outcome, cluster_id: q.cluster_id },
    prediction,
  );
  const [scored] = await tx.query<{ hit: number; miss: number }>(
    `select count(*) filter (where outcome = 'hit')::int as hit, count(*) filter (where outcome = 'miss')::int as miss
       from predictions where workspace_id = $1 and deleted_at is null`,
    [ws],
  );
  const hit = scored?.hit ?? 0;
  const miss = scored?.miss ?? 0;
  return { ...result, hit_rate: { hit, miss, rate: hit + miss > 0 ? hit / (hit + miss) : null } };
}
export const getPrediction = (tx: Tx, ws: string, id: string) =>
  one(tx, "predictions", PREDICTION, "prediction", ws, id, prediction);

export async function listRecommendations(
  tx: Tx,
  ws: string,
  q: PageQuery & { status?: string; kind?: string; issue_id?: string },
): Promise<Page<RecommendationView> & { counts: Record<string, number> }> {
  const result = await page(
    tx,
    "recommendations",
    RECOMMENDATION,
    ws,
    q,
    { status: q.status, kind: q.kind, issue_id: q.issue_id },
    recommendation,
  );
  const rows = await tx.query<{ status: string; n: number }>(
    "select status, count(*)::int as n from recommendations where workspace_id = $1 and deleted_at is null group by status",
    [ws],
  );
  const counts: Record<string, number> = { proposed: 0, accepted: 0, rejected: 0, applied: 0 };
  for (const row of rows) counts[row.status] = row.n;
  return { ...result, counts };
}
export const getRecommendation = (tx: Tx, ws: string, id: string) =>
  one(tx, "recommendations", RECOMMENDATION, "recommendation", ws, id, recommendation);

/** An engineer confirms a pattern (it stays, `active`) or dismisses it (`dismissed`: not shown as a candidate). */
export async function patternFeedback(tx: Tx, actor: Actor, id: string, decision: "confirm" | "dismiss") {
  await getPattern(tx, actor.workspaceId, id);
  const status = decision === "confirm" ? "active" : "dismissed";
  await tx.query("update patterns set status = $3 where workspace_id = $1 and id = $2", [
    actor.workspaceId,
    id,
    status,
  ]);
  await auditActor(tx, actor, `pattern.${decision === "confirm" ? "confirmed" : "dismissed"}`, "pattern", id, {
    status,
  });
  return getPattern(tx, actor.workspaceId, id);
}

/** An engineer accepts or dismisses a recommendation; the counts in the list show the totals. */
export async function recommendationFeedback(tx: Tx, actor: Actor, id: string, decision: "accept" | "dismiss") {
  await getRecommendation(tx, actor.workspaceId, id);
  const status = decision === "accept" ? "accepted" : "rejected";
  await tx.query(
    "update recommendations set status = $3, decided_by = $4, decided_at = now() where workspace_id = $1 and id = $2",
    [actor.workspaceId, id, status, actor.actorId],
  );
  await auditActor(tx, actor, `recommendation.${status}`, "recommendation", id, { status });
  return getRecommendation(tx, actor.workspaceId, id);
}
