// The embedded scheduler: named jobs on node-cron expressions (UTC). Each run claims its slot in
// scheduler_runs (UNIQUE (job, slot)), so with several `serve` instances on one PostgreSQL a slot runs
// once; a slot missed while the server was down is caught up at start; every run records start, end,
// outcome and counts.
import cron, { type ScheduledTask } from "node-cron";
import type { Engine } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Logger } from "../log.ts";

export interface JobDefinition {
  name: string;
  cron: string;
  description: string;
  /** Recovery jobs also run once at every start, whatever their schedule (work left by a crash waits for nobody). */
  runAtStart?: boolean;
  /** Whether a slot missed while no server ran is still worth running at start (default: always). */
  catchUp?(missed: Date): Promise<boolean>;
  run(): Promise<Record<string, number>>;
}

export interface JobRun {
  id: string;
  job: string;
  slot: string;
  trigger: string;
  instance: string;
  outcome: string;
  counts: Record<string, number>;
  error: string | null;
  started_at: string;
  finished_at: string | null;
}

export interface JobStatus {
  name: string;
  schedule: string;
  description: string;
  last_run: JobRun | null;
  next_run: string | null;
}

const minute = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

export function validateCron(name: string, expression: string): void {
  if (!cron.validate(expression))
    throw new AppError("config_invalid", `${name} is not a valid cron expression: '${expression}'`);
}

/** The most recent slot of the expression at or before `now`, looking back no further than `since`. */
export function previousSlot(expression: string, now: Date, since: Date): Date | undefined {
  const task = cron.createTask(expression, () => {}, { timezone: "UTC" });
  try {
    for (let t = minute(now).getTime(); t > since.getTime(); t -= 60_000) {
      if (task.match(new Date(t))) return new Date(t);
    }
    return undefined;
  } finally {
    void task.destroy();
  }
}

/** The next slot after `now` (scanned minute by minute, up to a year ahead). */
export function nextSlot(expression: string, now = new Date()): Date | null {
  const task = cron.createTask(expression, () => {}, { timezone: "UTC" });
  try {
    const end = now.getTime() + 366 * 86_400_000;
    for (let t = minute(now).getTime() + 60_000; t <= end; t += 60_000) {
      if (task.match(new Date(t))) return new Date(t);
    }
    return null;
  } finally {
    void task.destroy();
  }
}

function toRun(row: Record<string, unknown>): JobRun {
  const iso = (v: unknown) => (v ? new Date(v as string).toISOString() : null);
  return {
    ...(row as unknown as JobRun),
    slot: iso(row.slot) as string,
    started_at: iso(row.started_at) as string,
    finished_at: iso(row.finished_at),
  };
}

export async function lastRuns(engine: Engine, limit = 20, job?: string): Promise<JobRun[]> {
  const rows = await engine.query<Record<string, unknown>>(
    "select id, job, slot, trigger, instance, outcome, counts, error, started_at, finished_at from scheduler_runs where $1::text is null or job = $1 order by started_at desc limit $2",
    [job ?? null, limit],
  );
  return rows.map(toRun);
}

export async function jobStatuses(
  engine: Engine,
  jobs: Pick<JobDefinition, "name" | "cron" | "description">[],
): Promise<JobStatus[]> {
  const out: JobStatus[] = [];
  for (const job of jobs) {
    const [last] = await lastRuns(engine, 1, job.name);
    out.push({
      name: job.name,
      schedule: job.cron,
      description: job.description,
      last_run: last ?? null,
      next_run: nextSlot(job.cron)?.toISOString() ?? null,
    });
  }
  return out;
}

export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<unknown>>();
  readonly instance = `${process.pid}@${newId("run").slice(-8)}`;

  constructor(
    private readonly engine: Engine,
    readonly jobs: JobDefinition[],
    private readonly logger: Logger,
  ) {
    for (const job of jobs) validateCron(`the schedule of ${job.name}`, job.cron);
  }

  /** Claims a slot and runs the job once for it; returns undefined when another instance has the slot. */
  async runSlot(
    job: JobDefinition,
    slot: Date,
    trigger: "schedule" | "catch_up" | "manual",
  ): Promise<JobRun | undefined> {
    const id = newId("run");
    const claimed = await this.engine.query(
      "insert into scheduler_runs (id, job, slot, trigger, instance) values ($1, $2, $3, $4, $5) on conflict (job, slot) do nothing returning id",
      [id, job.name, slot.toISOString(), trigger, this.instance],
    );
    if (!claimed[0]) return undefined;
    const work = (async () => {
      try {
        const counts = await job.run();
        await this.engine.query(
          "update scheduler_runs set outcome = 'succeeded', counts = $2::jsonb, finished_at = now() where id = $1",
          [id, JSON.stringify(counts)],
        );
        this.logger.info("job.succeeded", { job: job.name, trigger, counts });
      } catch (error) {
        await this.engine.query(
          "update scheduler_runs set outcome = 'failed', error = $2, finished_at = now() where id = $1",
          [id, (error as Error).message.slice(0, 2000)],
        );
        this.logger.error("job.failed", { job: job.name, trigger, error: (error as Error).message });
      }
      const [row] = await this.engine.query<Record<string, unknown>>(
        "select id, job, slot, trigger, instance, outcome, counts, error, started_at, finished_at from scheduler_runs where id = $1",
        [id],
      );
      return toRun(row as Record<string, unknown>);
    })();
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  /** Runs a job now (a manual run has its own slot: the current millisecond). */
  runNow(name: string): Promise<JobRun | undefined> {
    const job = this.jobs.find((j) => j.name === name);
    if (!job)
      throw new AppError(
        "not_found",
        `no scheduled job named ${name} (have ${this.jobs.map((j) => j.name).join(", ")})`,
      );
    return this.runSlot(job, new Date(), "manual");
  }

  /** Schedules every job and catches up a slot missed while no server was running. */
  async start(now = new Date()): Promise<void> {
    for (const job of this.jobs) {
      this.tasks.push(
        cron.schedule(job.cron, (ctx) => void this.runSlot(job, minute(ctx.date ?? new Date()), "schedule"), {
          timezone: "UTC",
          name: job.name,
          noOverlap: true,
        }),
      );
      // The server is already answering: a database that goes away now costs this start's catch-up run (the
      // next slot runs on schedule), never the process.
      let last: { slot: Date | null } | undefined;
      try {
        [last] = await this.engine.query<{ slot: Date | null }>(
          "select max(slot) as slot from scheduler_runs where job = $1 and trigger <> 'manual'",
          [job.name],
        );
      } catch (error) {
        this.logger.warn("job.catch_up_check_failed", { job: job.name, error: (error as Error).message });
        continue;
      }
      const since = last?.slot ? new Date(last.slot) : new Date(now.getTime() - 7 * 86_400_000);
      const missed = previousSlot(job.cron, now, since);
      if (missed && (await this.worthCatchingUp(job, missed))) void this.runSlot(job, missed, "catch_up");
      else if (job.runAtStart) void this.runSlot(job, now, "catch_up");
    }
  }

  private async worthCatchingUp(job: JobDefinition, missed: Date): Promise<boolean> {
    try {
      return job.catchUp ? await job.catchUp(missed) : true;
    } catch (error) {
      this.logger.warn("job.catch_up_check_failed", { job: job.name, error: (error as Error).message });
      return false;
    }
  }

  async stop(): Promise<void> {
    for (const task of this.tasks) await task.stop();
    await Promise.allSettled([...this.running]);
  }
}
