// `causeloop scim token create|list|revoke`: a workspace's SCIM provisioning tokens, for operators who set up
// an identity provider (Entra ID, Okta) on a client's behalf. Owners and admins do the same at /v1/scim-tokens.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type WorkspaceFlags = CommonFlags & { workspace: string; json?: boolean };

export function registerScim(program: Command): void {
  const token = program
    .command("scim")
    .description("SCIM 2.0 provisioning (/scim/v2) of a workspace")
    .command("token")
    .description("The workspace's SCIM bearer tokens");

  withDatabaseFlags(token.command("create"))
    .description("Create a SCIM token (shown once; only its hash is kept)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .requiredOption("--name <name>", "a label, e.g. the identity provider's name")
    .option("--owner", "owner authority: it may deprovision owners (default: admin authority)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop scim token create --workspace ws_01j... --name 'Entra ID'")
    .action(
      action(async (flags: WorkspaceFlags & { name: string; owner?: boolean }) => {
        const created = await runOperation(configFrom(flags), "scim.token.create", {
          workspace: flags.workspace,
          name: flags.name,
          role: flags.owner ? "owner" : "admin",
        });
        if (flags.json) return printJson(created);
        process.stdout.write(
          `SCIM token ${created.id} (${created.role} authority); base URL <your server>/scim/v2\nshown once, store it in your identity provider now:\n${created.token}\n`,
        );
      }),
    );

  withDatabaseFlags(token.command("list"))
    .description("List the workspace's SCIM tokens (never their secrets)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: WorkspaceFlags) => {
        const list = await runOperation(configFrom(flags), "scim.token.list", { workspace: flags.workspace });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no SCIM tokens\n");
        const rows = list.map((t) => [t.id, t.name, t.role, t.created_at, t.last_used_at ?? "-", t.revoked_at ?? "-"]);
        process.stdout.write(`${table(["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"], rows)}\n`);
      }),
    );

  withDatabaseFlags(token.command("revoke <id>"))
    .description("Revoke a SCIM token (effective at once)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (id: string, flags: WorkspaceFlags) => {
        const result = await runOperation(configFrom(flags), "scim.token.revoke", { workspace: flags.workspace, id });
        if (flags.json) return printJson(result);
        process.stdout.write(`revoked ${id}\n`);
      }),
    );
}
