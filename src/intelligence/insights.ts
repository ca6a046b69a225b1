// Patterns, predictions and recommendations of one workspace, computed from its clusters' events (run by the
// scheduler's `intelligence.refresh` job inside the workspace's door, and on demand). Everything here is
// derived from recorded data, with its evidence, never invented:
// - a pattern: a cluster that recurs (a fixed period, a time of day, a weekday, bursts) or that follows
//   another cluster (e.g. errors within minutes of a deploy), with the occurrences that show it;
// - a prediction: for a recurring cluster, the window of its next occurrence with a confidence (the share of
//   its own history such a window caught); once the window has passed, it is scored hit or miss;
// - a recommendation: a resolved issue of the same cluster and what resolved it; a runbook for a recurring
//   problem nobody has written a resolution for; a noisy source to mute.
import { auditActor, type Actor } from "../audit/service.ts";
import type { Tx } from "../db/engine.ts";
import { emitEvent } from "../delivery/events.ts";
import { newId } from "../ids.ts";
import { predictNext } from "./prediction.ts";

const HISTORY = 64;
const ACTIVE_DAYS = 30;
/** A prediction is made only when at least this share of the cluster's own history would have been caught. */
const MIN_CONFIDENCE = 0.2;
/** B "follows" A when this share of B's bursts started within FOLLOW_WINDOW after an A event (≥ 3 times). */
const FOLLOW_SHARE = 0.8;
const FOLLOW_WINDOW_MS = 10 * 60_000;
/** A source is noisy when one cluster fires this often in a day with no issue anyone worked on. */
const NOISY_PER_DAY = 100;
const MAX_CLUSTERS = 200;

export interface RefreshResult {
  scored: { hit: number; miss: number };
  patterns: number;
  predictions: number;
  recommendations: number;
}

interface ActiveCluster {
  id: string;
  template: string;
  event_count: number;
  services: string[];
}

async function occurrences(tx: Tx, ws: string, clusterId: string): Promise<number[]> {
  const rows = await tx.query<{ at: Date }>(
    "select created_at as at from activity_events where workspace_id = $1 and cluster_id = $2 order by created_at desc limit $3",
    [ws, clusterId, HISTORY],
  );
  return rows.map((r) => new Date(r.at).getTime()).reverse();
}

/** Scores the predictions whose window has passed: hit when the cluster occurred inside it. */
async function scorePredictions(tx: Tx, ws: string, now: Date): Promise<{ hit: number; miss: number }> {
  const scored = await tx.query<{ outcome: string }>(
    `update predictions p set scored_at = $2,
            outcome = case when exists (select 1 from activity_events e where e.workspace_id = p.workspace_id
                                          and e.cluster_id = p.cluster_id and e.created_at between p.window_start and p.window_end)
                           then 'hit' else 'miss' end
      where p.workspace_id = $1 and p.outcome = 'pending' and p.window_end < $2 and p.cluster_id is not null
      returning outcome`,
    [ws, now],
  );
  return {
    hit: scored.filter((r) => r.outcome === "hit").length,
    miss: scored.filter((r) => r.outcome === "miss").length,
  };
}

async function upsertPattern(
  tx: Tx,
  ws: string,
  cluster: ActiveCluster,
  kind: string,
  name: string,
  description: string,
  risk: number,
  evidence: Record<string, unknown>,
): Promise<string> {
  const [row] = await tx.query<{ id: string; status: string }>(
    `insert into patterns (workspace_id, id, cluster_id, name, description, status, risk_score, kind, evidence, created_by)
     values ($1, $2, $3, $4, $5, 'candidate', $6, $7, $8::jsonb, 'system:intelligence')
     on conflict (workspace_id, cluster_id, kind) where deleted_at is null and cluster_id is not null
     do update set description = excluded.description, risk_score = excluded.risk_score, evidence = excluded.evidence
     returning id, status`,
    [ws, newId("pmt"), cluster.id, name.slice(0, 300), description, risk.toFixed(4), kind, JSON.stringify(evidence)],
  );
  return row?.id as string;
}

async function upsertRecommendation(
  tx: Tx,
  ws: string,
  rec: {
    kind: string;
    dedup: string;
    title: string;
    body: string;
    clusterId: string | null;
    issueId?: string | null;
    patternId?: string | null;
    evidence: Record<string, unknown>;
  },
): Promise<boolean> {
  const rows = await tx.query(
    `insert into recommendations (workspace_id, id, issue_id, pattern_id, title, body, kind, cluster_id, evidence, dedup_key)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
     on conflict (workspace_id, dedup_key) where dedup_key is not null
     do update set evidence = excluded.evidence, body = excluded.body
     returning (xmax = 0) as inserted`,
    [
      ws,
      newId("rec"),
      rec.issueId ?? null,
      rec.patternId ?? null,
      rec.title.slice(0, 300),
      rec.body.slice(0, 10_000),
      rec.kind,
      rec.clusterId,
      JSON.stringify(rec.evidence),
      rec.dedup,
    ],
  );
  return (rows[0] as { inserted?: boolean } | undefined)?.inserted === true;
}

/** Recomputes one workspace's patterns, predictions and recommendations (inside its door). */
export async function refreshInsights(tx: Tx, ws: string, now: Date = new Date()): Promise<RefreshResult> {
  const result: RefreshResult = {
    scored: await scorePredictions(tx, ws, now),
    patterns: 0,
    predictions: 0,
    recommendations: 0,
  };
  const clusters = await tx.query<ActiveCluster>(
    `select id, template, event_count::float8 as event_count, services from clusters
      where workspace_id = $1 and deleted_at is null and algorithm = 'template' and event_count >= 3
        and last_seen_at > $2::timestamptz - make_interval(days => $3)
      order by last_seen_at desc limit $4`,
    [ws, now, ACTIVE_DAYS, MAX_CLUSTERS],
  );
  const times = new Map<string, number[]>();
  for (const cluster of clusters) times.set(cluster.id, await occurrences(tx, ws, cluster.id));

  for (const cluster of clusters) {
    const history = times.get(cluster.id) ?? [];
    const next = predictNext(history);
    if (!next || next.pattern === "irregular" || next.confidence < MIN_CONFIDENCE) continue;
    const patternId = await upsertPattern(
      tx,
      ws,
      cluster,
      next.pattern,
      `${cluster.template.slice(0, 200)} recurs ${next.explanation}`,
      `Seen ${history.length} times; ${next.explanation}.`,
      next.confidence,
      { occurrences: history.slice(-16).map((t) => new Date(t).toISOString()), explanation: next.explanation },
    );
    result.patterns++;
    if (next.to <= now.getTime()) continue;
    const [pending] = await tx.query(
      "select 1 from predictions where workspace_id = $1 and cluster_id = $2 and outcome = 'pending'",
      [ws, cluster.id],
    );
    if (!pending) {
      const id = newId("pre");
      const from = new Date(next.from);
      const to = new Date(next.to);
      await tx.query(
        `insert into predictions (workspace_id, id, pattern_id, cluster_id, probability, horizon_hours, explanation, model, window_start, window_end)
         values ($1, $2, $3, $4, $5, $6, $7, 'causeloop-recurrence-v1', $8, $9)`,
        [
          ws,
          id,
          patternId,
          cluster.id,
          next.confidence.toFixed(4),
          Math.max(1, Math.ceil((next.to - now.getTime()) / 3_600_000)),
          `Next occurrence expected between ${from.toISOString()} and ${to.toISOString()} (${next.explanation})`,
          from,
          to,
        ],
      );
      await emitEvent(tx, ws, "prediction.created", {
        prediction_id: id,
        cluster_id: cluster.id,
        window_start: from.toISOString(),
        window_end: to.toISOString(),
        confidence: Number(next.confidence.toFixed(4)),
      });
      result.predictions++;
    }
    // A recurring problem nobody has written down how to fix: a runbook (or an alert) is missing.
    const [resolved] = await tx.query(
      "select 1 from issues where workspace_id = $1 and cluster_id = $2 and resolution is not null and deleted_at is null limit 1",
      [ws, cluster.id],
    );
    if (
      !resolved &&
      (await upsertRecommendation(tx, ws, {
        kind: "missing_runbook",
        dedup: `runbook:${cluster.id}`,
        title: `Write a runbook for a recurring problem: ${cluster.template.slice(0, 200)}`,
        body: `It recurs ${next.explanation} (${history.length} occurrences) and no issue of it records a resolution. Write down how it is fixed, or alert before it happens.`,
        clusterId: cluster.id,
        patternId,
        evidence: { occurrences: history.length, explanation: next.explanation },
      }))
    )
      result.recommendations++;
  }

  // Bursts that follow another cluster (a deploy, a failover): B's bursts start within minutes of an A event.
  for (const b of clusters) {
    const starts = burstStarts(times.get(b.id) ?? []);
    if (starts.length < 3) continue;
    for (const a of clusters) {
      if (a.id === b.id) continue;
      const before = times.get(a.id) ?? [];
      const followed = starts.filter((s) => before.some((t) => t <= s && s - t <= FOLLOW_WINDOW_MS)).length;
      if (followed < 3 || followed / starts.length < FOLLOW_SHARE) continue;
      await upsertPattern(
        tx,
        ws,
        b,
        "follows",
        `${b.template.slice(0, 120)} follows ${a.template.slice(0, 120)}`,
        `${followed} of its ${starts.length} bursts began within ${FOLLOW_WINDOW_MS / 60_000} min after "${a.template.slice(0, 200)}".`,
        followed / starts.length,
        { after_cluster_id: a.id, bursts: starts.length, followed },
      );
      result.patterns++;
      break;
    }
  }

  // Open issues of a cluster that was resolved before: what resolved it then.
  const similar = await tx.query<{
    issue_id: string;
    cluster_id: string;
    resolved_id: string;
    resolved_title: string;
    resolution: string;
  }>(
    `select o.id as issue_id, o.cluster_id, r.id as resolved_id, r.title as resolved_title, r.resolution
       from issues o join lateral (
         select id, title, resolution from issues r where r.workspace_id = o.workspace_id and r.cluster_id = o.cluster_id
            and r.id <> o.id and r.resolution is not null and r.status in ('resolved', 'closed') and r.deleted_at is null
          order by r.resolved_at desc nulls last limit 1) r on true
      where o.workspace_id = $1 and o.cluster_id is not null and o.deleted_at is null
        and o.status not in ('resolved', 'closed')`,
    [ws],
  );
  for (const s of similar)
    if (
      await upsertRecommendation(tx, ws, {
        kind: "similar_resolution",
        dedup: `similar:${s.issue_id}:${s.resolved_id}`,
        title: `Resolved before: ${s.resolved_title}`.slice(0, 300),
        body: s.resolution,
        clusterId: s.cluster_id,
        issueId: s.issue_id,
        evidence: { resolved_issue_id: s.resolved_id },
      })
    )
      result.recommendations++;

  // Noisy sources: a cluster firing all day that no one works on.
  const noisy = await tx.query<{ id: string; template: string; services: string[]; n: number }>(
    `select c.id, c.template, c.services, count(*)::int as n from clusters c
       join activity_events e on e.workspace_id = c.workspace_id and e.cluster_id = c.id and e.created_at > $2::timestamptz - interval '1 day'
      where c.workspace_id = $1 and c.deleted_at is null
        and not exists (select 1 from issues i where i.workspace_id = c.workspace_id and i.cluster_id = c.id
                          and (i.resolution is not null or i.status in ('investigating', 'mitigated')))
      group by c.id, c.template, c.services having count(*) >= $3`,
    [ws, now, NOISY_PER_DAY],
  );
  for (const n of noisy)
    if (
      await upsertRecommendation(tx, ws, {
        kind: "mute_noisy_source",
        dedup: `noisy:${n.id}`,
        title: `Mute or tune a noisy source${n.services[0] ? ` (${n.services[0]})` : ""}: ${n.template.slice(0, 200)}`,
        body: `It fired ${n.n} times in the last 24 hours and nobody has worked on it: raise its threshold, or mute it at the source.`,
        clusterId: n.id,
        evidence: { last_24h: n.n, services: n.services },
      })
    )
      result.recommendations++;
  return result;
}

/** A refresh an engineer asked for (the scheduler's own runs are not audited): recorded in the audit trail. */
export async function requestRefresh(tx: Tx, actor: Actor): Promise<RefreshResult> {
  const result = await refreshInsights(tx, actor.workspaceId);
  await auditActor(tx, actor, "insights.refreshed", "workspace", actor.workspaceId, { ...result });
  return result;
}

/** The first event of each burst (events closer than the follow window belong to one burst). */
function burstStarts(times: readonly number[]): number[] {
  const starts: number[] = [];
  let previous = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t - previous > FOLLOW_WINDOW_MS) starts.push(t);
    previous = t;
  }
  return starts;
}
