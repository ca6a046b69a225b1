// The audit sequencer (migration 0043): audit_append queues an event in the caller's transaction; this chains
// what is queued, after the commit. Two callers:
//   * right after a transaction that appended commits (appendAudit registers it with tx.afterCommit), before the
//     request is answered, so the chain is complete whenever a caller looks;
//   * a sweep (serve, every few seconds; `audit verify` before it reads) for what a process that died between
//     its commit and its flush left queued.
// Within one process, flushes of one workspace coalesce: while a run is under way, every caller that committed
// meanwhile waits for the one next run, which chains all of their events at once (PostgreSQL's advisory lock
// orders the runs of several instances). A run that starts after a caller's commit sees its event, so waiting
// for it is enough.
import type { Engine } from "../db/engine.ts";
import { type Logger, silentLogger } from "../log.ts";

interface Flushes {
  running?: Promise<void>;
  next?: Promise<void>;
}

const flushes = new WeakMap<Engine, Map<string, Flushes>>();
let logger: Logger = silentLogger;

/** Where a failed flush is reported (serve passes its logger): the events stay queued for the sweep. */
export function setSequencerLogger(next: Logger): void {
  logger = next;
}

async function run(engine: Engine, workspaceId: string): Promise<void> {
  try {
    await engine.query("select audit_sequence($1) as n", [workspaceId]);
  } catch (error) {
    logger.error("audit.sequence_failed", { workspace_id: workspaceId, error: (error as Error).message });
  }
}

/** Chains what `workspaceId` has queued, in a run that starts no earlier than this call. Never throws. */
export function flushAudit(engine: Engine, workspaceId: string): Promise<void> {
  let byWorkspace = flushes.get(engine);
  if (!byWorkspace) {
    byWorkspace = new Map();
    flushes.set(engine, byWorkspace);
  }
  const state = byWorkspace.get(workspaceId) ?? {};
  byWorkspace.set(workspaceId, state);
  const start = (): Promise<void> => {
    const current = run(engine, workspaceId).finally(() => {
      if (state.running === current) state.running = undefined;
      if (!state.running && !state.next) byWorkspace.delete(workspaceId);
    });
    state.running = current;
    return current;
  };
  if (!state.running) return start();
  // A run is under way and may have read the queue before this caller's commit: wait for the next one.
  state.next ??= state.running.then(() => {
    state.next = undefined;
    return start();
  });
  return state.next;
}

/**
 * Chains every workspace's queued events older than `minAgeSeconds` (0: all). Returns how many workspaces had
 * some. The listing is one SECURITY DEFINER call; each workspace is then sequenced under its own RLS.
 */
export async function sweepAuditQueue(engine: Engine, minAgeSeconds = 0): Promise<number> {
  const pending = await engine.query<{ workspace_id: string }>(
    "select workspace_id from audit_queue_pending(make_interval(secs => $1))",
    [minAgeSeconds],
  );
  for (const { workspace_id } of pending) await flushAudit(engine, workspace_id);
  return pending.length;
}
