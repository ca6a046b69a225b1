// `causeloop ingest`: bulk import of event history into a workspace (NDJSON of normalized events, or a vendor's
// export), streamed, with a progress bar; each event is stored once and grouped into issues as live ones are.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { isSource, SOURCES } from "../src/ingestion/adapters/index.ts";
import { action, configFrom, printJson, progressBar, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerIngest(program: Command): void {
  withDatabaseFlags(program.command("ingest"))
    .description("Import event history into a workspace: NDJSON (one event per line) or a JSON array, streamed")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .requiredOption("--source <source>", `whose events: ${SOURCES.join(", ")}`)
    .requiredOption("--file <path>", "the file to import")
    .option("--normalized", "the lines are normalized events (the generic format) rather than the vendor's payloads")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop ingest --workspace ws_01j... --source generic --file history.ndjson\n  causeloop ingest --workspace ws_01j... --source alertmanager --file alerts.ndjson",
    )
    .action(
      action(
        async (
          flags: CommonFlags & {
            workspace: string;
            source: string;
            file: string;
            normalized?: boolean;
            json?: boolean;
          },
        ) => {
          if (!isSource(flags.source))
            throw new AppError("bad_request", `--source must be one of ${SOURCES.join(", ")}`);
          const report = await runOperation(
            configFrom(flags),
            "ingest.file",
            {
              workspace: flags.workspace,
              source: flags.source,
              file: flags.file,
              normalized: flags.normalized ?? false,
            },
            progressBar("importing", " bytes"),
          );
          if (flags.json) return printJson(report);
          process.stdout.write(
            `${report.lines} lines: ${report.accepted} events imported, ${report.duplicates} already there, ${report.rejected} unreadable\n`,
          );
          for (const { line, error } of report.errors) process.stdout.write(`  line ${line}: ${error}\n`);
        },
      ),
    );
}
