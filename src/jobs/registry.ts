// The scheduled jobs `serve` runs, built from configuration. `causeloop jobs list|run` use the same list.
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { runRetention } from "../governance/retention.ts";
import type { JobDefinition } from "./scheduler.ts";
import type { JobHandler } from "./queue.ts";
import { buildExport, expireExports } from "../governance/exports.ts";
import { withTenant } from "../db/tenant.ts";
import { refreshInsights } from "../intelligence/insights.ts";
import type { ArchiveStore } from "../governance/storage.ts";
import { resumeProcessing, type RtbfKeys } from "../governance/rtbf.ts";
import { runVacuumJob, type MaintenanceConnection } from "../governance/vacuum.ts";
import { pruneDeliveries } from "../delivery/worker.ts";
import { verifyEverything } from "../audit/all-chains.ts";
import { fileAnchorStore } from "../audit/anchors.ts";
import { backupJobs, type BackupJobSettings, type BackupKeys } from "../backups/schedule.ts";
import { remindOverdueReviews } from "../identity/access-reviews.ts";

/**
 * Queue handlers: each runs one job of its kind (the worker retries with backoff). `maintenance` is a
 * connection owning the tables (VACUUM after an erasure); without it, erasures wait for `rtbf vacuum`.
 */
export function jobHandlers(
  engine: Engine,
  config: Pick<Config, "exportRetentionDays">,
  store: ArchiveStore,
  maintenance?: MaintenanceConnection,
): Record<string, JobHandler> {
  return {
    "rtbf.vacuum": (job) => runVacuumJob(engine, maintenance, job.workspace_id, String(job.payload.request_id)),
    "export.build": async (job) => {
      const exportId = String(job.payload.export_id);
      try {
        return await buildExport(engine, job.workspace_id, exportId, store, {
          linkExpiryDays: config.exportRetentionDays,
        });
      } catch (error) {
        if (job.attempts >= job.max_attempts) {
          await withTenant(engine, job.workspace_id, (tx) =>
            tx.query("update export_jobs set status = 'failed', error = $3 where workspace_id = $1 and id = $2", [
              job.workspace_id,
              exportId,
              (error as Error).message.slice(0, 500),
            ]),
          );
        }
        throw error;
      }
    },
  };
}

export function scheduledJobs(
  engine: Engine,
  config: Pick<
    Config,
    "retentionCron" | "auditAnchorFile" | "auditCheckpointEvery" | "auditCheckpointMinutes" | "accessReviewDays"
  > &
    BackupJobSettings,
  rtbfKeys: () => Promise<RtbfKeys>,
  store: ArchiveStore,
  backupKeys: BackupKeys,
): JobDefinition[] {
  return [
    {
      name: "exports.expire",
      cron: "17 * * * *",
      description: "Delete export archives past their expiry",
      run: async () => expireExports(engine, store),
    },
    {
      name: "intelligence.refresh",
      cron: "*/15 * * * *",
      description:
        "Recompute every workspace's recurrence patterns, predictions (scoring those whose window passed) and recommendations",
      run: async () => {
        const totals = { workspaces: 0, patterns: 0, predictions: 0, recommendations: 0, hit: 0, miss: 0 };
        const workspaces = await engine.query<{ id: string }>("select active_workspace_ids() as id");
        for (const { id } of workspaces) {
          const r = await withTenant(engine, id, (tx) => refreshInsights(tx, id));
          totals.workspaces++;
          totals.patterns += r.patterns;
          totals.predictions += r.predictions;
          totals.recommendations += r.recommendations;
          totals.hit += r.scored.hit;
          totals.miss += r.scored.miss;
        }
        return totals;
      },
    },
    {
      name: "rtbf.resume",
      cron: "*/5 * * * *",
      description: "Finish erasures left in processing (a crash or restart mid-way)",
      runAtStart: true,
      run: async () => resumeProcessing(engine, await rtbfKeys(), store),
    },
    {
      name: "audit.verify",
      cron: "23 2 * * *",
      description: "Verify every audit chain, the operator log and the anchors; a failure raises a security alert",
      run: async () => {
        const signer = (await rtbfKeys()).signer;
        const checks = {
          anchors: fileAnchorStore(config.auditAnchorFile),
          cadence: { everyEvents: config.auditCheckpointEvery, maxAgeMinutes: config.auditCheckpointMinutes },
        };
        // With an owner connection (the embedded engine, or DATABASE_OWNER_URL on PostgreSQL) everything is
        // verified there; without one, every workspace's chain and anchors still are, each under its own RLS,
        // and the operator log (its owner's only) is reported as not verified.
        const result = backupKeys.owner
          ? await backupKeys.owner((owner) => verifyEverything(owner, signer, undefined, checks))
          : await verifyEverything(engine, signer, undefined, { ...checks, operatorLog: false });
        return {
          chains: result.workspaces.length,
          broken: result.workspaces.filter((w) => !w.ok).length,
          operator_log_verified: result.operator_log ? 1 : 0,
          operator_log_broken: result.operator_log && !result.operator_log.ok ? 1 : 0,
        };
      },
    },
    {
      name: "deliveries.prune",
      cron: "41 4 * * *",
      description: "Delete webhook deliveries delivered over 7 days ago and dead letters over 30 days old",
      run: async () => ({ deleted: await pruneDeliveries(engine, { deliveredDays: 7, deadDays: 30 }) }),
    },
    {
      name: "retention",
      cron: config.retentionCron,
      description: "Delete issues, activity, predictions and audit rows past each workspace's retention window",
      run: async () => (await runRetention(engine, { actor: "system:scheduler" })).totals,
    },
    {
      name: "access-reviews.remind",
      cron: "7 6 * * *",
      description: `Raise access_review_due in workspaces whose last completed access review is over ${config.accessReviewDays} days old`,
      run: async () => remindOverdueReviews(engine, config.accessReviewDays),
    },
    ...backupJobs(engine, config, backupKeys),
  ];
}
