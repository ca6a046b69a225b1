// The scheduled jobs `serve` runs, built from configuration. `causeloop jobs list|run` use the same list.
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { runRetention } from "../governance/retention.ts";
import type { JobDefinition } from "./scheduler.ts";
import { resumeProcessing, type RtbfKeys } from "../governance/rtbf.ts";

export function scheduledJobs(engine: Engine, config: Pick<Config, "retentionCron">, rtbfKeys: () => Promise<RtbfKeys>): JobDefinition[] {
  return [
    {
      name: "rtbf.resume",
      cron: "*/5 * * * *",
      description: "Finish erasures left in processing (a crash or restart mid-way)",
      runAtStart: true,
      run: async () => resumeProcessing(engine, await rtbfKeys()),
    },
    {
      name: "retention",
      cron: config.retentionCron,
      description: "Delete issues, activity, predictions and audit rows past each workspace's retention window",
      run: async () => (await runRetention(engine, { actor: "system:scheduler" })).totals,
    },
  ];
}
