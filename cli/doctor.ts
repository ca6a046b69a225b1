// `causeloop doctor`: the catalog-driven health check.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerDoctor(program: Command): void {
  withDatabaseFlags(program.command("doctor"))
    .description(
      "Check database, migrations, runtime role and row-level security on every tenant table; exit 1 on any failure",
    )
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop doctor --json")
    .action(
      action(async (flags: CommonFlags) => {
        const config = configFrom(flags);
        const report = await runOperation(config, "doctor");
        if (flags.json) printJson(report);
        else {
          process.stdout.write(
            `${table(
              ["CHECK", "RESULT", "DETAIL"],
              report.checks.map((c) => [c.name, c.ok ? "PASS" : "FAIL", c.detail]),
            )}\n`,
          );
          process.stdout.write(
            `${report.ok ? "PASS" : "FAIL"}: ${report.protectedTables}/${report.tenantTables} tenant tables protected (${report.engine})\n`,
          );
        }
        if (!report.ok) process.exit(1);
      }),
    );
}
