// `causeloop sso list|show|delete|test`: a workspace's SSO connections, through the operator plane (the same
// services as /v1/sso-connections; deletion and tests audited in the workspace as the operator).
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { confirmYes } from "./confirm.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type Flags = CommonFlags & { workspace: string; json?: boolean };

export function registerSso(program: Command): void {
  const sso = program.command("sso").description("A workspace's single sign-on connections (OIDC, SAML, ID-token)");
  /** Every subcommand names the workspace and can answer JSON. */
  const sub = (usage: string, description: string) =>
    withDatabaseFlags(sso.command(usage))
      .description(description)
      .requiredOption("--workspace <id>", "the workspace (ws_...)")
      .option("--json", "machine-readable output");

  sub("list", "List a workspace's SSO connections")
    .addHelpText("after", "\nExample:\n  causeloop sso list --workspace ws_01j...")
    .action(
      action(async (flags: Flags) => {
        const list = await runOperation(configFrom(flags), "sso.list", { workspace: flags.workspace });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no SSO connections\n");
        process.stdout.write(
          `${table(
            ["ID", "PROVIDER", "STATUS", "NAME", "ISSUER", "JIT"],
            list.map((c) => [
              c.id,
              c.provider,
              c.status,
              c.display_name,
              c.issuer ?? "",
              c.jit_provisioning ? "yes" : "no",
            ]),
          )}\n`,
        );
      }),
    );

  sub("show <id>", "Show one connection (the client secret only as its last four characters)").action(
    action(async (id: string, flags: Flags) => {
      const connection = await runOperation(configFrom(flags), "sso.show", { workspace: flags.workspace, id });
      if (flags.json) return printJson(connection);
      process.stdout.write(
        `${Object.entries(connection)
          .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
          .join("\n")}\n`,
      );
    }),
  );

  sub("delete <id>", "Delete a connection and unlink the identities signed in through it (audited)")
    .option("--yes", "do not ask for confirmation")
    .action(
      action(async (id: string, flags: Flags & { yes?: boolean }) => {
        if (!flags.yes)
          await confirmYes(
            `Delete SSO connection ${id} of ${flags.workspace}; its members can no longer sign in through it?`,
          );
        const result = await runOperation(configFrom(flags), "sso.delete", { workspace: flags.workspace, id });
        if (flags.json) return printJson(result);
        process.stdout.write(`deleted ${result.deleted}\n`);
      }),
    );

  sub(
    "test <id>",
    "Test a connection: OIDC discovery and key set, SAML certificate, ID-token key set (exit 1 on failure)",
  ).action(
    action(async (id: string, flags: Flags) => {
      const result = await runOperation(configFrom(flags), "sso.test", { workspace: flags.workspace, id });
      if (flags.json) printJson(result);
      else
        process.stdout.write(
          `${table(
            ["CHECK", "OK", "DETAIL"],
            result.checks.map((c) => [c.name, c.ok ? "yes" : "no", c.detail ?? ""]),
          )}\n`,
        );
      if (!result.ok) process.exitCode = 1;
    }),
  );
}
