// Operations on scheduled jobs: their status, and running one now (recorded in the operator log).
import { Type } from "@sinclair/typebox";
import { AppError } from "../../errors.ts";
import { jobStatuses, lastRuns, Scheduler } from "../../jobs/scheduler.ts";
import { scheduledJobs } from "../../jobs/registry.ts";
import { logOperatorAction } from "../../audit/operator-log.ts";
import { silentLogger } from "../../log.ts";
import { defineOperation, type OperationContext } from "../contract.ts";
import { erasureKeys } from "./governance.ts";

async function jobsFor({ engine, config, kek, signer }: OperationContext) {
  const keys = await erasureKeys(config, engine);
  return scheduledJobs(engine, config, async () => keys.rtbf, keys.store, { kek, signer, owner: (fn) => fn(engine) });
}

export const jobOperations = {
  "jobs.list": defineOperation({
    needs: "owner",
    args: Type.Object({}, { additionalProperties: false }),
    run: async (ctx) => ({
      jobs: await jobStatuses(ctx.engine, ctx.scheduler?.().jobs ?? (await jobsFor(ctx))),
      recent: await lastRuns(ctx.engine, 20),
    }),
  }),
  "jobs.run": defineOperation({
    needs: "owner",
    args: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
    run: async (ctx, args) => {
      const scheduler = ctx.scheduler?.() ?? new Scheduler(ctx.engine, await jobsFor(ctx), silentLogger);
      const run = await scheduler.runNow(args.name);
      await logOperatorAction(ctx.engine, {
        action: "job.run",
        actor: ctx.actor,
        targetType: "job",
        targetId: args.name,
        after: { outcome: run?.outcome ?? "skipped", counts: run?.counts ?? null, error: run?.error ?? null },
      });
      if (run?.outcome === "failed") throw new AppError("internal", `job ${args.name} failed: ${run.error}`);
      return run;
    },
  }),
};
