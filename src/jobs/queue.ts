// The job queue in PostgreSQL (the `jobs` table): enqueue inside the caller's tenant transaction; workers
// claim due jobs with FOR UPDATE SKIP LOCKED (the same SQL on PGlite, where the single connection makes it
// trivially exclusive), retry with exponential backoff, and reclaim jobs whose worker died (lease expired).
import type { Engine, Queryable, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { newId } from "../ids.ts";
import type { Logger } from "../log.ts";

export type JobHandler = (job: ClaimedJob) => Promise<unknown>;

export interface ClaimedJob {
  workspace_id: string;
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}

export async function enqueue(
  tx: Tx,
  workspaceId: string,
  kind: string,
  payload: Record<string, unknown>,
  options: { maxAttempts?: number } = {},
): Promise<string> {
  const id = newId("job");
  await tx.query(
    "insert into jobs (workspace_id, id, kind, payload, max_attempts) values ($1, $2, $3, $4::jsonb, $5)",
    [workspaceId, id, kind, JSON.stringify(payload), options.maxAttempts ?? 5],
  );
  return id;
}

/** Backoff before attempt n+1: 5 s, 10 s, 20 s ... capped at 10 minutes. */
/**
 * Embedded mode has exactly one process: a job left `running` belonged to a process that is gone, so it is
 * queued again at start (several PostgreSQL instances rely on lease expiry instead).
 */
export async function requeueOrphanedJobs(engine: Queryable): Promise<void> {
  await engine.query(
    "update jobs set status = 'queued', locked_by = null, locked_until = null where status = 'running'",
  );
}

export const backoffSeconds = (attempts: number) => Math.min(600, 5 * 2 ** Math.max(0, attempts - 1));

export class Worker {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private current: Promise<void> | undefined;
  readonly id = `worker-${process.pid}-${newId("job").slice(-6)}`;

  constructor(
    private readonly engine: Engine,
    private readonly handlers: Record<string, JobHandler>,
    private readonly logger: Logger,
    private readonly options: { pollMs?: number; leaseSeconds?: number; batch?: number } = {},
  ) {}

  /** Claims and runs every due job once; returns how many ran. */
  async drain(): Promise<number> {
    const lease = this.options.leaseSeconds ?? 300;
    const jobs = await this.engine.query<ClaimedJob>("select * from claim_jobs($1, $2, $3)", [
      this.id,
      this.options.batch ?? 5,
      lease,
    ]);
    if (jobs.length === 0) return 0;
    // Heartbeat: while this batch runs, keep the leases of the jobs claimed (a third of the lease apart).
    const heartbeat = setInterval(
      () => {
        this.engine
          .query("select extend_job_leases($1, $2)", [this.id, lease])
          .catch((error: Error) => this.logger.warn("job.heartbeat_failed", { worker: this.id, error: error.message }));
      },
      Math.max(250, (lease * 1000) / 3),
    );
    try {
      for (const job of jobs) await this.runOne(job);
    } finally {
      clearInterval(heartbeat);
    }
    return jobs.length;
  }

  private async runOne(job: ClaimedJob): Promise<void> {
    const handler = this.handlers[job.kind];
    try {
      if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
      const result = await handler(job);
      await withTenant(this.engine, job.workspace_id, (tx) =>
        tx.query(
          "update jobs set status = 'succeeded', result = $3::jsonb, finished_at = now(), locked_by = null, locked_until = null where workspace_id = $1 and id = $2 and locked_by = $4",
          [job.workspace_id, job.id, JSON.stringify(result ?? null), this.id],
        ),
      );
    } catch (error) {
      const dead = job.attempts >= job.max_attempts;
      const message = (error as Error).message.slice(0, 2000);
      await withTenant(this.engine, job.workspace_id, (tx) =>
        tx.query(
          `update jobs set status = $3, last_error = $4, locked_by = null, locked_until = null,
                  run_at = now() + make_interval(secs => $5), finished_at = case when $3 = 'dead' then now() else null end
            where workspace_id = $1 and id = $2 and locked_by = $6`,
          [job.workspace_id, job.id, dead ? "dead" : "queued", message, backoffSeconds(job.attempts), this.id],
        ),
      );
      this.logger.warn("job.attempt_failed", {
        job_id: job.id,
        kind: job.kind,
        attempt: job.attempts,
        dead,
        error: message,
      });
    }
  }

  start(): void {
    const tick = async () => {
      if (this.stopping) return;
      this.current = this.drain().then(
        () => {},
        (error: Error) => this.logger.error("worker.failed", { error: error.message }),
      );
      await this.current;
      if (!this.stopping) this.timer = setTimeout(tick, this.options.pollMs ?? 1000);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }
}
