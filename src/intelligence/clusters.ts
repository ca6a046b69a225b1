// A workspace's clusters in the database: the clustering engine (clustering/engine.ts) assigns each event,
// the clusters table holds what engineers see (template, counts, first and last seen, services, linked
// issues), and cluster_engine_states holds the engine's snapshot so that any instance can resume it. Every
// call runs inside the workspace's door; the engine row is locked for the transaction, so one workspace's
// assignments are serialized across instances while workspaces run in parallel.
// The engine stays cached per process under a random state token: an instance whose token no longer matches
// the row (another instance changed the structure, or a transaction rolled back) restores it from the row.
// Counts and last-seen times change with every event and live in the clusters table only; the snapshot is
// rewritten when the structure changes (a new cluster, a template gaining a variable, clusters merged, a
// correction), so an event on a known problem costs two row updates whatever the history.
import { auditActor, type Actor } from "../audit/service.ts";
import type { Tx } from "../db/engine.ts";
import { idKeyset, idPage, type Page, type PageQuery } from "../db/where.ts";
import { emitEvent } from "../delivery/events.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import { ClusterEngine, type ClusterView, type EngineSnapshot } from "./clustering.ts";

const CACHE_LIMIT = 500;
const cache = new Map<string, { token: string; engine: ClusterEngine }>();

const engineOptions = { newId: () => newId("clu") };

interface EngineHandle {
  engine: ClusterEngine;
  /** Rewrites the snapshot under a new token (after a structural change). */
  save(): Promise<void>;
}

/** Locks the workspace's clustering until the transaction ends (its events are assigned one at a time). */
export async function lockClustering(tx: Tx, workspaceId: string): Promise<void> {
  const lock = "select 1 from cluster_engine_states where workspace_id = $1 for update";
  if ((await tx.query(lock, [workspaceId])).length > 0) return;
  await tx.query(
    "insert into cluster_engine_states (workspace_id, version, snapshot) values ($1, 0, '{}'::jsonb) on conflict do nothing",
    [workspaceId],
  );
  await tx.query(lock, [workspaceId]);
}

/** The workspace's engine, its row locked until the transaction ends. */
async function openEngine(tx: Tx, workspaceId: string): Promise<EngineHandle> {
  await lockClustering(tx, workspaceId);
  // The token alone on every event; the snapshot only when this process's copy is not the current one.
  const [row] = await tx.query<{ token: string }>(
    "select version::text as token from cluster_engine_states where workspace_id = $1",
    [workspaceId],
  );
  if (!row) throw new AppError("internal", "the workspace's clustering state could not be created");
  let cached = cache.get(workspaceId);
  if (!cached || cached.token !== row.token) {
    const [state] = await tx.query<{ snapshot: EngineSnapshot | Record<string, never> }>(
      "select snapshot from cluster_engine_states where workspace_id = $1",
      [workspaceId],
    );
    const snapshot = state?.snapshot as EngineSnapshot;
    const engine = snapshot?.clusters
      ? ClusterEngine.restore(snapshot, engineOptions)
      : new ClusterEngine(engineOptions);
    cached = { token: row.token, engine };
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(workspaceId, cached);
  }
  const entry = cached;
  return {
    engine: entry.engine,
    async save() {
      // A random token (a bigint the database stores): never reused, so a rolled-back change is never
      // mistaken for another instance's.
      const token = BigInt.asIntN(
        63,
        BigInt(`0x${Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex")}`),
      );
      await tx.query(
        "update cluster_engine_states set version = $2, snapshot = $3::jsonb, updated_at = now() where workspace_id = $1",
        [workspaceId, token.toString(), JSON.stringify(entry.engine.snapshot())],
      );
      entry.token = token.toString();
    },
  };
}

/** Forgets every cached engine (tests; a restore). */
export function forgetClusterEngines(): void {
  cache.clear();
}

/** A cluster's label (the template cut to a title's length) and its stored template. */
const labelAndTemplate = (template: string): [string, string] => [template.slice(0, 300), template.slice(0, 8192)];

export interface ClusterAssignment {
  cluster_id: string;
  template: string;
  is_new: boolean;
  /** The cluster's problem came back: it has issues and every one of them is resolved or closed. */
  regressed: boolean;
}

/**
 * Assigns one event's message to its cluster and records it there (count, first/last seen, service).
 * Emits `cluster.created` for a new problem and `cluster.regressed` when a resolved one comes back.
 */
export async function assignEvent(
  tx: Tx,
  workspaceId: string,
  event: { message: string; at: Date; service?: string | null },
): Promise<ClusterAssignment> {
  const handle = await openEngine(tx, workspaceId);
  const at = event.at.getTime();
  const assignment = handle.engine.assign(event.message, { at });
  const service = event.service ? event.service.slice(0, 200) : null;
  // The same parameters for a new cluster and a known one: ($3, $4) its label and template.
  const params = [workspaceId, assignment.clusterId, ...labelAndTemplate(assignment.template), event.at, service];
  if (assignment.isNew) {
    await tx.query(
      `insert into clusters (workspace_id, id, label, algorithm, template, event_count, first_seen_at, last_seen_at, services)
       values ($1, $2, $3, 'template', $4, 1, $5, $5, case when $6::text is null then '{}'::text[] else array[$6::text] end)`,
      params,
    );
  } else {
    // Clusters this event's new template took over: their counts and times move to it.
    for (const absorbed of assignment.absorbed)
      await absorbInto(tx, workspaceId, assignment.clusterId, absorbed, false);
    await tx.query(
      `update clusters set event_count = event_count + 1, label = $3, template = $4,
              first_seen_at = least(coalesce(first_seen_at, $5), $5), last_seen_at = greatest(coalesce(last_seen_at, $5), $5),
              services = case when $6::text is null or $6::text = any(services) or cardinality(services) >= 50 then services else services || $6::text end
        where workspace_id = $1 and id = $2`,
      params,
    );
  }
  if (assignment.isNew || assignment.templateChanged || assignment.absorbed.length > 0) await handle.save();
  let regressed = false;
  if (!assignment.isNew) {
    const [issues] = await tx.query<{ total: number; open: number }>(
      `select count(*)::int as total, count(*) filter (where status not in ('resolved', 'closed'))::int as open
         from issues where workspace_id = $1 and cluster_id = $2 and deleted_at is null`,
      [workspaceId, assignment.clusterId],
    );
    regressed = (issues?.total ?? 0) > 0 && issues?.open === 0;
  }
  const data = { cluster_id: assignment.clusterId, template: assignment.template, service };
  if (assignment.isNew) await emitEvent(tx, workspaceId, "cluster.created", data);
  if (regressed) await emitEvent(tx, workspaceId, "cluster.regressed", data);
  return { cluster_id: assignment.clusterId, template: assignment.template, is_new: assignment.isNew, regressed };
}

/**
 * A cluster merged into another (by the engine, or `corrected` by an engineer): its counts, times and services
 * add to the survivor's, and its events and issues now belong to the survivor.
 */
async function absorbInto(tx: Tx, workspaceId: string, into: string, from: string, corrected: boolean): Promise<void> {
  await tx.query(
    `update clusters t set event_count = t.event_count + a.event_count, corrected = t.corrected or $4,
            first_seen_at = least(t.first_seen_at, a.first_seen_at), last_seen_at = greatest(t.last_seen_at, a.last_seen_at),
            services = array(select distinct unnest(t.services || a.services))
       from clusters a where t.workspace_id = $1 and t.id = $2 and a.workspace_id = $1 and a.id = $3`,
    [workspaceId, into, from, corrected],
  );
  await tx.query("update clusters set merged_into = $3, deleted_at = now() where workspace_id = $1 and id = $2", [
    workspaceId,
    from,
    into,
  ]);
  await tx.query("update activity_events set cluster_id = $3 where workspace_id = $1 and cluster_id = $2", [
    workspaceId,
    from,
    into,
  ]);
  // An issue grouped by the retired cluster is now the survivor's (later events of it find it).
  await tx.query(
    `update issues set cluster_id = $3, fingerprint = replace(fingerprint, ':cluster:' || $2, ':cluster:' || $3)
      where workspace_id = $1 and cluster_id = $2`,
    [workspaceId, from, into],
  );
}

export interface ClusterRecord {
  id: string;
  template: string;
  event_count: number;
  first_seen_at: string | null;
  last_seen_at: string | null;
  services: string[];
  /** An engineer merged, split or pinned it: the engine never merges it on its own. */
  corrected: boolean;
  issue_ids: string[];
  created_at: string;
}

const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
const COLUMNS = `c.id, c.template, c.event_count::float8 as event_count, c.first_seen_at, c.last_seen_at, c.services, c.corrected, c.created_at,
  coalesce((select array_agg(i.id order by i.id) from issues i where i.workspace_id = c.workspace_id and i.cluster_id = c.id and i.deleted_at is null), '{}') as issue_ids`;

function toRecord(row: Record<string, unknown>): ClusterRecord {
  return {
    id: row.id as string,
    template: row.template as string,
    event_count: Number(row.event_count),
    first_seen_at: iso(row.first_seen_at),
    last_seen_at: iso(row.last_seen_at),
    services: (row.services as string[]) ?? [],
    corrected: Boolean(row.corrected),
    issue_ids: (row.issue_ids as string[]) ?? [],
    created_at: iso(row.created_at) as string,
  };
}

export async function listClusters(
  tx: Tx,
  workspaceId: string,
  query: PageQuery & { service?: string; q?: string },
): Promise<Page<ClusterRecord>> {
  const { limit, after } = idKeyset(query);
  const rows = await tx.query<Record<string, unknown> & { id: string }>(
    `select ${COLUMNS} from clusters c
      where c.workspace_id = $1 and c.deleted_at is null and c.algorithm = 'template'
        and ($2::text is null or c.id < $2) and ($3::text is null or $3 = any(c.services))
        and ($4::text is null or strpos(lower(c.template), lower($4)) > 0)
      order by c.id desc limit $5`,
    [workspaceId, after, query.service ?? null, query.q ?? null, limit + 1],
  );
  return idPage(rows.map(toRecord), limit);
}

export async function getCluster(tx: Tx, workspaceId: string, id: string): Promise<ClusterRecord> {
  const [row] = await tx.query<Record<string, unknown>>(
    `select ${COLUMNS}, c.merged_into from clusters c where c.workspace_id = $1 and c.id = $2`,
    [workspaceId, id],
  );
  if (!row) throw new AppError("not_found", `cluster ${id} not found`);
  if (row.merged_into)
    throw new AppError("not_found", `cluster ${id} was merged into ${row.merged_into as string}`, {
      merged_into: row.merged_into as string,
    });
  return toRecord(row);
}

/** Stored events a correction catches, moved to `clusterId`. Scans the workspace's clustered events. */
async function repoint(tx: Tx, workspaceId: string, engine: ClusterEngine, match: string, clusterId: string) {
  const events = await tx.query<{ id: string; cluster_id: string; message: string }>(
    `select id, cluster_id, coalesce(payload ->> 'message', payload ->> 'title', '') as message from activity_events
      where workspace_id = $1 and cluster_id is not null and cluster_id <> $2 order by id desc limit 100000`,
    [workspaceId, clusterId],
  );
  const moved = events.filter((e) => e.message && engine.caughtBy(match, e.message));
  const bySource = new Map<string, number>();
  for (const event of moved) bySource.set(event.cluster_id, (bySource.get(event.cluster_id) ?? 0) + 1);
  if (moved.length > 0)
    await tx.query("update activity_events set cluster_id = $2 where workspace_id = $1 and id = any($3::text[])", [
      workspaceId,
      clusterId,
      moved.map((e) => e.id),
    ]);
  for (const [source, n] of bySource)
    await tx.query(
      "update clusters set event_count = greatest(event_count - $3, 0) where workspace_id = $1 and id = $2",
      [workspaceId, source, n],
    );
  await tx.query("update clusters set event_count = event_count + $3 where workspace_id = $1 and id = $2", [
    workspaceId,
    clusterId,
    moved.length,
  ]);
  return moved.length;
}

/** Engineer's correction: `from` is the same problem as `into`, now and for later events. */
export async function mergeClusters(tx: Tx, actor: Actor, into: string, from: string): Promise<ClusterRecord> {
  const ws = actor.workspaceId;
  if (into === from) throw new AppError("validation_failed", "a cluster cannot be merged into itself");
  await getCluster(tx, ws, into);
  await getCluster(tx, ws, from);
  const handle = await openEngine(tx, ws);
  requireKnown(handle.engine, into);
  requireKnown(handle.engine, from);
  handle.engine.merge(into, from);
  await absorbInto(tx, ws, into, from, true);
  await handle.save();
  await auditActor(tx, actor, "cluster.merged", "cluster", into, { from });
  return getCluster(tx, ws, into);
}

function requireKnown(engine: ClusterEngine, id: string): void {
  if (!engine.get(id)) throw new AppError("conflict", `cluster ${id} is not known to the clustering engine`);
}

const MAX_MATCH = 4096;
function checkMatch(match: string): string {
  const trimmed = match.trim();
  if (!trimmed || trimmed.length > MAX_MATCH)
    throw new AppError("validation_failed", `match must be a message or a template of 1 to ${MAX_MATCH} characters`);
  return trimmed;
}

/** Engineer's correction: events matching `match` (a message, or a template with <*>) are a problem of their own. */
export async function splitCluster(tx: Tx, actor: Actor, match: string): Promise<ClusterRecord & { moved: number }> {
  const ws = actor.workspaceId;
  const text = checkMatch(match);
  const handle = await openEngine(tx, ws);
  const view: ClusterView = handle.engine.split(text);
  await tx.query(
    `insert into clusters (workspace_id, id, label, algorithm, template, corrected) values ($1, $2, $3, 'template', $4, true)`,
    [ws, view.id, ...labelAndTemplate(view.template)],
  );
  const moved = await repoint(tx, ws, handle.engine, text, view.id);
  await tx.query(
    `update clusters set first_seen_at = s.first, last_seen_at = s.last from
       (select min(created_at) as first, max(created_at) as last from activity_events where workspace_id = $1 and cluster_id = $2) s
      where workspace_id = $1 and id = $2`,
    [ws, view.id],
  );
  await handle.save();
  await auditActor(tx, actor, "cluster.split", "cluster", view.id, { moved });
  return { ...(await getCluster(tx, ws, view.id)), moved };
}

/** Engineer's correction: events matching `match` belong to this cluster, stored ones and later ones. */
export async function pinToCluster(
  tx: Tx,
  actor: Actor,
  id: string,
  match: string,
): Promise<ClusterRecord & { moved: number }> {
  const ws = actor.workspaceId;
  const text = checkMatch(match);
  await getCluster(tx, ws, id);
  const handle = await openEngine(tx, ws);
  requireKnown(handle.engine, id);
  handle.engine.pin(text, id);
  await tx.query("update clusters set corrected = true where workspace_id = $1 and id = $2", [ws, id]);
  const moved = await repoint(tx, ws, handle.engine, text, id);
  await handle.save();
  await auditActor(tx, actor, "cluster.pinned", "cluster", id, { moved });
  return { ...(await getCluster(tx, ws, id)), moved };
}
