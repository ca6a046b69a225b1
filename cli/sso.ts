// `causeloop sso create|update|list|show|delete|test`: a workspace's SSO connections, through the operator plane (the same
// services as /v1/sso-connections; deletion and tests audited in the workspace as the operator).
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { confirmYes } from "./confirm.ts";
import { AppError } from "../src/errors.ts";
import { action, configFrom, existingFile, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type Flags = CommonFlags & { workspace: string; json?: boolean };

export function registerSso(program: Command): void {
  const sso = program.command("sso").description("A workspace's single sign-on connections (OIDC, SAML, ID-token)");
  /** Every subcommand names the workspace and can answer JSON. */
  const sub = (usage: string, description: string) =>
    withDatabaseFlags(sso.command(usage))
      .description(description)
      .requiredOption("--workspace <id>", "the workspace (ws_...)")
      .option("--json", "machine-readable output");

  /** The settings file: JSON, as the API's body (secrets in a file, never on the command line). */
  const settingsFrom = async (path: string) => {
    const parsed = await (await existingFile(path, "--file")).json().catch(() => undefined);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new AppError("bad_request", `--file ${path} is not a JSON object of connection settings`);
    return parsed as Record<string, unknown>;
  };
  const printConnection = (connection: Record<string, unknown>): void =>
    void process.stdout.write(
      `${Object.entries(connection)
        .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
        .join("\n")}\n`,
    );

  sub("create", "Configure an identity provider from a JSON settings file (as POST /v1/sso-connections takes)")
    .requiredOption("--file <settings.json>", "provider, display_name, issuer and the rest (client_secret included)")
    .addHelpText(
      "after",
      '\nThe file: {"provider":"oidc","display_name":"Okta","issuer":"https://corp.okta.com","client_id":"...","client_secret":"...","jit_provisioning":true}\n(SAML: "sso_url" and "idp_certificate", or "metadata_url"; see "Single sign-on" in the README). Audited; the secret is stored encrypted.\nExample:\n  causeloop sso create --workspace ws_01j... --file okta.json',
    )
    .action(
      action(async (flags: Flags & { file: string }) => {
        const connection = await runOperation(configFrom(flags), "sso.create", {
          workspace: flags.workspace,
          connection: (await settingsFrom(flags.file)) as never,
        });
        return flags.json ? printJson(connection) : printConnection(connection);
      }),
    );

  sub("update <id>", "Change a connection from a JSON file of the settings to change (as PATCH takes them)")
    .requiredOption("--file <changes.json>", 'e.g. {"status":"disabled"} or {"client_secret":"..."}')
    .addHelpText("after", "\nExample:\n  causeloop sso update sso_01j... --workspace ws_01j... --file rotate.json")
    .action(
      action(async (id: string, flags: Flags & { file: string }) => {
        const connection = await runOperation(configFrom(flags), "sso.update", {
          workspace: flags.workspace,
          id,
          changes: (await settingsFrom(flags.file)) as never,
        });
        return flags.json ? printJson(connection) : printConnection(connection);
      }),
    );

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
      printConnection(connection);
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
