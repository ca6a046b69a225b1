// `causeloop retention run` and `causeloop jobs list|run`.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerGovernance(program: Command): void {
  const retention = program
    .command("retention")
    .description("Data retention (per-workspace windows; the audit log keeps at least 365 days)");
  withDatabaseFlags(retention.command("run"))
    .description("Purge rows past each workspace's retention window now (the scheduler does it daily)")
    .option("--workspace <id>", "only this workspace")
    .option("--dry-run", "count what would be deleted, delete nothing")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop retention run --dry-run\n  causeloop retention run --workspace ws_01j...",
    )
    .action(
      action(async (flags: CommonFlags & { workspace?: string; dryRun?: boolean }) => {
        const result = await runOperation(configFrom(flags), "retention.run", {
          workspace: flags.workspace,
          dryRun: flags.dryRun,
        });
        if (flags.json) return printJson(result);
        const tables = Object.keys(result.totals);
        process.stdout.write(
          `${table(
            ["WORKSPACE", ...tables.map((t) => t.toUpperCase())],
            result.workspaces.map((w) => [w.workspace_id, ...tables.map((t) => String(w.counts[t] ?? 0))]),
          )}\n`,
        );
        process.stdout.write(
          `${flags.dryRun ? "would delete" : "deleted"}: ${tables.map((t) => `${t} ${result.totals[t]}`).join(", ")}\n`,
        );
      }),
    );

  const jobs = program.command("jobs").description("The embedded scheduler's jobs");
  withDatabaseFlags(jobs.command("list"))
    .description("Scheduled jobs: name, schedule, last run and outcome, next run; and recent runs")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop jobs list")
    .action(
      action(async (flags: CommonFlags) => {
        const result = await runOperation(configFrom(flags), "jobs.list");
        if (flags.json) return printJson(result);
        process.stdout.write(
          `${table(
            ["JOB", "SCHEDULE (UTC)", "LAST RUN", "OUTCOME", "COUNTS", "NEXT RUN"],
            result.jobs.map((j) => [
              j.name,
              j.schedule,
              j.last_run?.started_at.slice(0, 19) ?? "never",
              j.last_run?.outcome.toUpperCase() ?? "-",
              j.last_run ? JSON.stringify(j.last_run.counts) : "-",
              j.next_run?.slice(0, 19) ?? "-",
            ]),
          )}\n`,
        );
      }),
    );
  withDatabaseFlags(jobs.command("run <name>"))
    .description("Run a scheduled job now (inside a running server when there is one)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop jobs run retention")
    .action(
      action(async (name: string, flags: CommonFlags) => {
        const run = await runOperation(configFrom(flags), "jobs.run", { name });
        if (flags.json) return printJson(run ?? null);
        process.stdout.write(
          run
            ? `${run.job}: ${run.outcome} ${JSON.stringify(run.counts)}\n`
            : `${name}: not run (another instance holds this slot)\n`,
        );
      }),
    );
}
