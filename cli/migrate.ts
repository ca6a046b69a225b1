// `causeloop migrate` and `causeloop migrate status`.
import type { Command } from "commander";
import type { MigrationStatus } from "../src/db/migrate.ts";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

function statusTable(status: MigrationStatus[]): string {
  return table(
    ["MIGRATION", "STATE", "SHA256", "APPLIED", "MS"],
    status.map((s) => [
      s.name,
      s.state.toUpperCase(),
      s.sha256.slice(0, 12),
      s.appliedAt ?? "-",
      s.durationMs === undefined ? "-" : String(s.durationMs),
    ]),
  );
}

export function registerMigrate(program: Command): void {
  const migrate = withDatabaseFlags(program.command("migrate"))
    .description("Apply pending migrations (PostgreSQL: as DATABASE_OWNER_URL) and upsert the connector catalogue")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop migrate\n  DATABASE_URL=... DATABASE_OWNER_URL=postgres://owner:...@db/causeloop causeloop migrate --json",
    )
    .action(
      action(async (flags: CommonFlags) => {
        const config = configFrom(flags);
        const result = await runOperation(config, "migrate");
        if (flags.json) return printJson(result);
        if (result.applied.length === 0)
          process.stdout.write(`Nothing to apply: ${result.alreadyApplied} migrations already applied.\n`);
        for (const a of result.applied) process.stdout.write(`applied ${a.name} (${a.durationMs} ms)\n`);
      }),
    );

  withDatabaseFlags(migrate.command("status"))
    .description("List applied and pending migrations with checksums; exit 1 when an applied file changed")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop migrate status --json")
    .action(
      action(async (flags: CommonFlags, command: Command) => {
        const config = configFrom({ ...command.parent?.opts(), ...flags });
        const report = await runOperation(config, "migrate.status");
        if (flags.json ?? command.parent?.opts().json) printJson(report);
        else {
          process.stdout.write(`${statusTable(report.migrations)}\n${report.pending} pending\n`);
        }
        if (report.error) throw new AppError("migration_drift", report.error);
      }),
    );
}
