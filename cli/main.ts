#!/usr/bin/env bun
// The binary's entry: one commander program; each command group lives in its own file.
import "./warm.ts";
import { Command, CommanderError } from "commander";
import { BUILD, VERSION_LINE } from "../src/version.ts";
import { registerServe } from "./serve.ts";
import { registerMigrate } from "./migrate.ts";
import { registerRoles } from "./roles.ts";
import { registerDoctor } from "./doctor.ts";
import { registerTenants } from "./tenants.ts";
import { registerKeys } from "./keys.ts";
import { registerAudit } from "./audit.ts";
import { registerGovernance } from "./governance.ts";
import { registerRtbf } from "./rtbf.ts";
import { registerTui } from "./tui.ts";
import { registerSetup } from "./setup.ts";
import { registerEvidence } from "./evidence.ts";
import { registerAlerts } from "./alerts.ts";
import { registerScim } from "./scim.ts";
import { registerAccessReviews } from "./access-reviews.ts";
import { registerSso } from "./sso.ts";
import { registerDeliveries } from "./deliveries.ts";
import { registerBackup } from "./backup.ts";
import { registerIngest } from "./ingest.ts";
import { registerRelay } from "./relay.ts";
import { fail } from "./output.ts";

export function buildProgram(): Command {
  const program = new Command()
    .name("causeloop")
    .description("Causeloop: multi-tenant incident intelligence with row-level security, one binary.")
    .version(VERSION_LINE, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ outputError: (text, write) => write(text) })
    .exitOverride();
  program.addHelpText(
    "after",
    `
--env-file <file> (before or after the command, setup excepted): set variables from this KEY=value file
first; variables already set win.
Without DATABASE_URL (or DATABASE_OWNER_URL) Causeloop runs on embedded PGlite in --data-dir
(default ~/.local/share/causeloop).
Examples:
  causeloop demo                      serve a throw-away demo on http://127.0.0.1:8080
  causeloop serve --port 8080         serve the API
  causeloop doctor                    check the database, roles and row-level security
  causeloop setup --database-owner-url postgres://owner:...@db/causeloop --state-dir ... --env-file ...
                                      set up PostgreSQL in one step, then: causeloop --env-file ... serve`,
  );
  registerServe(program);
  registerSetup(program);
  registerMigrate(program);
  registerRoles(program);
  registerDoctor(program);
  registerTenants(program);
  registerKeys(program);
  registerAudit(program);
  registerGovernance(program);
  registerRtbf(program);
  registerEvidence(program);
  registerAlerts(program);
  registerScim(program);
  registerAccessReviews(program);
  registerSso(program);
  registerDeliveries(program);
  registerBackup(program);
  registerIngest(program);
  registerRelay(program);
  registerTui(program);
  program
    .command("version")
    .description("Version, commit and build date of this binary")
    .option("--json", "machine-readable output")
    .action((flags: { json?: boolean }) => {
      process.stdout.write(flags.json ? `${JSON.stringify(BUILD)}\n` : `${VERSION_LINE}\n`);
    });
  return program;
}

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exit(
        error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0 ? 0 : 2,
      );
    }
    fail(error);
  }
}
