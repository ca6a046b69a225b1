// Tenant lifecycle commands: onboard, offboard, workspace add, tenants list|restore|offboardings.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { confirmTyped } from "./confirm.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerTenants(program: Command): void {
  withDatabaseFlags(program.command("onboard <slug>"))
    .description(
      "Onboard a client: organization, first workspace, retention defaults, admin user and a one-time admin token",
    )
    .requiredOption("--name <name>", "organization display name")
    .requiredOption("--admin-email <email>", "the client admin's email (their login identity)")
    .option("--workspace <slug>", "first workspace's slug", "production")
    .option("--if-not-exists", "when the slug exists, print its ids (no new token) and exit 0")
    .option(
      "--admin-token-days <days>",
      "days the admin token stays valid (default CAUSELOOP_ONBOARDING_TOKEN_DAYS, 7; 0: never expires)",
    )
    .option("--json", "print {organization_id, workspace_id, admin_email, admin_token, setup_token}")
    .addHelpText(
      "after",
      '\nExample:\n  causeloop onboard acme --name "Acme Corp" --admin-email ops@acme.com --json\nExit code 3 when the slug exists (unless --if-not-exists).',
    )
    .action(
      action(
        async (
          slug: string,
          flags: CommonFlags & {
            name: string;
            adminEmail: string;
            workspace: string;
            ifNotExists?: boolean;
            adminTokenDays?: string;
          },
        ) => {
          const config = configFrom(flags);
          const days = flags.adminTokenDays === undefined ? undefined : Number(flags.adminTokenDays);
          if (days !== undefined && !(Number.isInteger(days) && days >= 0 && days <= 3650))
            throw new AppError("validation_failed", "--admin-token-days must be a whole number from 0 to 3650");
          const result = await runOperation(config, "onboard", {
            slug,
            name: flags.name,
            adminEmail: flags.adminEmail,
            workspace: flags.workspace,
            ifNotExists: flags.ifNotExists,
            adminTokenDays: days,
          });
          if (flags.json) return printJson(result);
          if (result.existed) {
            process.stdout.write(
              `organization ${slug} already exists: ${result.organization_id}, workspace ${result.workspace_id} (no new token)\n`,
            );
            return;
          }
          process.stdout.write(
            `onboarded ${slug}: organization ${result.organization_id}, workspace ${result.workspace_id}, admin ${result.admin_email}\n`,
          );
          process.stdout.write(
            `admin token (shown once, store it now; only its hash is kept; ${result.admin_token_expires_at ? `expires ${result.admin_token_expires_at}` : "never expires"}):\n${result.admin_token}\n`,
          );
          if (result.setup_token) {
            process.stdout.write(
              `admin account setup token (shown once, valid 7 days; the admin sets a first password with\n  POST /v1/auth/accept-invite {"invite_token": "<this>", "password": "..."}):\n${result.setup_token}\n`,
            );
          }
        },
      ),
    );

  withDatabaseFlags(program.command("offboard <slug>"))
    .description(
      "Offboard a client: soft (disable, revoke tokens; reversible) or purge (delete every row of its workspaces)",
    )
    .requiredOption("--mode <mode>", "soft or purge")
    .option("--yes", "do not ask for the slug to be typed back")
    .option("--json", "print the offboarding record")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop offboard acme --mode soft\n  causeloop offboard acme --mode purge --yes --json",
    )
    .action(
      action(async (slug: string, flags: CommonFlags & { mode: string; yes?: boolean }) => {
        if (flags.mode !== "soft" && flags.mode !== "purge")
          throw new AppError("validation_failed", `--mode must be soft or purge (got "${flags.mode}")`);
        const config = configFrom(flags);
        if (!flags.yes)
          await confirmTyped(
            flags.mode === "purge"
              ? `PURGE deletes every row of "${slug}" for good`
              : `Soft offboarding disables "${slug}" and revokes its tokens`,
            slug,
          );
        const record = await runOperation(config, "offboard", { slug, mode: flags.mode });
        if (flags.json) return printJson(record);
        process.stdout.write(`${flags.mode === "purge" ? "purged" : "disabled"} ${slug} (record ${record.id})\n`);
        for (const [tableName, count] of Object.entries(record.row_counts))
          process.stdout.write(`  ${tableName}: ${count}\n`);
      }),
    );

  const workspace = program.command("workspace").description("Workspaces of an organization");
  withDatabaseFlags(workspace.command("add <org-slug> <workspace-slug>"))
    .description("Add a workspace to an organization; the organization's owners become its owners")
    .option("--name <name>", "display name")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop workspace add acme staging")
    .action(
      action(async (org: string, ws: string, flags: CommonFlags & { name?: string }) => {
        const config = configFrom(flags);
        const result = await runOperation(config, "workspace.add", { org, workspace: ws, name: flags.name });
        if (flags.json) return printJson(result);
        process.stdout.write(`added workspace ${org}/${ws}: ${result.workspace_id}\n`);
      }),
    );

  const tenants = program.command("tenants").description("List, restore and review offboarded tenants");
  withDatabaseFlags(tenants.command("list"))
    .description("Organizations and workspaces with status, member count and creation time")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop tenants list --json")
    .action(
      action(async (flags: CommonFlags) => {
        const rows = await runOperation(configFrom(flags), "tenants.list");
        if (flags.json) return printJson(rows);
        process.stdout.write(
          `${table(
            ["ORGANIZATION", "STATUS", "WORKSPACE", "WORKSPACE ID", "MEMBERS", "CREATED"],
            rows.map((r) => [
              r.slug,
              r.status.toUpperCase(),
              r.workspace_slug ?? "-",
              r.workspace_id ?? "-",
              String(r.members),
              r.created_at.slice(0, 19),
            ]),
          )}\n`,
        );
      }),
    );
  withDatabaseFlags(tenants.command("restore <slug>"))
    .description("Reverse a soft offboarding: re-enable the organization and the tokens it revoked")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop tenants restore acme")
    .action(
      action(async (slug: string, flags: CommonFlags) => {
        const record = await runOperation(configFrom(flags), "tenants.restore", { slug });
        if (flags.json) return printJson(record);
        process.stdout.write(`restored ${slug} (${record.row_counts.personal_access_tokens ?? 0} tokens re-enabled)\n`);
      }),
    );
  withDatabaseFlags(tenants.command("rate-limit <slug>"))
    .description("Set an organization's own API budget (requests per minute per workspace), or --default to clear it")
    .option("--per-minute <n>", "requests per minute for each workspace, all its credentials together")
    .option("--default", "back to the server's default (CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE)")
    .option("--workspace <slug>", "only this workspace of the organization")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop tenants rate-limit acme --per-minute 20000\n  causeloop tenants rate-limit acme --default",
    )
    .action(
      action(
        async (slug: string, flags: CommonFlags & { perMinute?: string; default?: boolean; workspace?: string }) => {
          if (flags.default === (flags.perMinute !== undefined))
            throw new AppError("validation_failed", "give either --per-minute <n> or --default");
          const perMinute = flags.default ? null : Number(flags.perMinute);
          if (perMinute !== null && (!Number.isSafeInteger(perMinute) || perMinute < 1))
            throw new AppError("validation_failed", "--per-minute must be a whole number of at least 1");
          const result = await runOperation(configFrom(flags), "tenants.rate-limit", {
            slug,
            workspace: flags.workspace,
            perMinute,
          });
          if (flags.json) return printJson(result);
          for (const w of result.workspaces)
            process.stdout.write(
              `${slug}/${w.slug}: ${w.per_minute === null ? "server default" : `${w.per_minute} requests per minute`}\n`,
            );
        },
      ),
    );
  withDatabaseFlags(tenants.command("offboardings [slug]"))
    .description("The global offboarding records (they outlive purged tenants)")
    .option("--json", "machine-readable output")
    .action(
      action(async (slug: string | undefined, flags: CommonFlags) => {
        const records = await runOperation(configFrom(flags), "tenants.offboardings", { slug });
        if (flags.json) return printJson(records);
        process.stdout.write(
          `${table(
            ["SLUG", "MODE", "WHEN", "BY", "ROWS"],
            records.map((r) => [
              r.slug,
              r.mode,
              new Date(r.completed_at ?? r.started_at).toISOString().slice(0, 19),
              r.performed_by,
              String(Object.values(r.row_counts).reduce((a, b) => a + Number(b), 0)),
            ]),
          )}\n`,
        );
      }),
    );
}
