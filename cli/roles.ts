// `causeloop roles setup` and `causeloop roles check`.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { action, configFrom, printJson, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerRoles(program: Command): void {
  const roles = program
    .command("roles")
    .description("Set up and check the database roles (owner for DDL, causeloop_app at runtime)");

  withDatabaseFlags(roles.command("setup"))
    .description("Create or repair causeloop_app (idempotent): NOSUPERUSER NOBYPASSRLS, DML grants, default privileges")
    .option("--password-stdin", "read the app role's password from standard input")
    .option("--rotate", "generate a new password even when the role exists (printed once)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nThe password comes from --password-stdin, else CAUSELOOP_APP_PASSWORD, else is generated and printed once.\nExample:\n  DATABASE_URL=... DATABASE_OWNER_URL=postgres://owner:...@db/causeloop causeloop roles setup",
    )
    .action(
      action(async (flags: CommonFlags & { passwordStdin?: boolean; rotate?: boolean }) => {
        const config = configFrom(flags);
        let password = process.env.CAUSELOOP_APP_PASSWORD || undefined;
        if (flags.passwordStdin) password = (await Bun.stdin.text()).trim();
        if (password !== undefined && password.length < 16)
          throw new AppError("bad_request", "the app role's password must be at least 16 characters");
        const result = await runOperation(config, "roles.setup", { password, rotate: flags.rotate });
        if (flags.json) return printJson(result);
        process.stdout.write(
          `${result.created ? "created" : "updated"} role ${result.role} (${result.login ? "LOGIN" : "NOLOGIN: embedded mode switches to it per transaction"})\n`,
        );
        if (result.generatedPassword) {
          process.stdout.write(`password (shown once, store it now): ${result.generatedPassword}\n`);
        } else if (result.passwordSet) process.stdout.write("password set from the supplied value\n");
      }),
    );

  withDatabaseFlags(roles.command("check"))
    .description("Check that causeloop_app exists and is neither superuser nor BYPASSRLS; exit 1 otherwise")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop roles check --json")
    .action(
      action(async (flags: CommonFlags) => {
        const config = configFrom(flags);
        const report = await runOperation(config, "roles.check");
        if (flags.json) printJson(report);
        else {
          process.stdout.write(`role ${report.role}: ${report.ok ? "OK" : "FAIL"}\n`);
          process.stdout.write(
            `  exists=${report.exists} login=${report.login} superuser=${report.superuser} bypassrls=${report.bypassRls} createrole=${report.createRole}\n`,
          );
          for (const p of report.problems) process.stdout.write(`  problem: ${p}\n`);
        }
        if (!report.ok) process.exit(1);
      }),
    );
}
