// `causeloop alerts list|ack|rules`: security alerts, the operator's own or one workspace's, and the rules'
// thresholds.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

const STATUSES = ["open", "acknowledged", "resolved"];

function positive(text: string, flag: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1)
    throw new AppError("bad_request", `${flag} must be a positive integer`);
  return Number(text);
}

export function registerAlerts(program: Command): void {
  const alerts = program
    .command("alerts")
    .description("Security alerts: the installation's own (isolation, audit verification) or a workspace's");

  withDatabaseFlags(alerts.command("list"))
    .description("List alerts, newest first: the operator's, or with --workspace that workspace's")
    .option("--workspace <id>", "a workspace's alerts (ws_...) instead of the operator's")
    .option("--status <status>", `only ${STATUSES.join(", ")}`)
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop alerts list --status open")
    .action(
      action(async (flags: CommonFlags & { workspace?: string; status?: string }) => {
        if (flags.status && !STATUSES.includes(flags.status))
          throw new AppError("bad_request", `--status must be one of ${STATUSES.join(", ")}`);
        const list = await runOperation(configFrom(flags), "alerts.list", {
          workspace: flags.workspace,
          status: flags.status as "open" | undefined,
        });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no alerts\n");
        process.stdout.write(
          `${table(
            ["ID", "RULE", "SEVERITY", "STATUS", "SEEN", "LAST SEEN", "SUMMARY"],
            list.map((a) => [
              a.id,
              a.rule,
              a.severity,
              a.status,
              `${a.occurrences}x`,
              a.last_seen_at,
              a.summary.length > 70 ? `${a.summary.slice(0, 69)}…` : a.summary,
            ]),
          )}\n`,
        );
      }),
    );

  withDatabaseFlags(alerts.command("ack <id>"))
    .description("Acknowledge an alert with a note (recorded in the operator log, or the workspace's audit trail)")
    .requiredOption("--note <text>", "why (what was found, what was done)")
    .option("--workspace <id>", "the workspace the alert belongs to (ws_...)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      '\nExample:\n  causeloop alerts ack alr_01j... --note "RLS restored on issues after the migration fix"',
    )
    .action(
      action(async (id: string, flags: CommonFlags & { note: string; workspace?: string }) => {
        const alert = await runOperation(configFrom(flags), "alerts.ack", {
          id,
          note: flags.note,
          workspace: flags.workspace,
        });
        if (flags.json) return printJson(alert);
        process.stdout.write(`acknowledged ${alert.id} (${alert.rule})\n`);
      }),
    );

  withDatabaseFlags(alerts.command("rules"))
    .description("Show the alert rules' thresholds; with --set, change one (recorded in the operator log)")
    .option("--set <rule>", "the rule to change")
    .option("--threshold <n>", "events within the window that raise it")
    .option("--window <seconds>", "the window, in seconds")
    .option("--enable", "switch the rule on")
    .option("--disable", "switch the rule off")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExample:\n  causeloop alerts rules --set failed_logins_account --threshold 10 --window 600",
    )
    .action(
      action(
        async (
          flags: CommonFlags & {
            set?: string;
            threshold?: string;
            window?: string;
            enable?: boolean;
            disable?: boolean;
          },
        ) => {
          if (flags.enable && flags.disable) throw new AppError("bad_request", "give --enable or --disable, not both");
          const rules = await runOperation(configFrom(flags), "alerts.rules", {
            set: flags.set,
            threshold: flags.threshold === undefined ? undefined : positive(flags.threshold, "--threshold"),
            window_seconds: flags.window === undefined ? undefined : positive(flags.window, "--window"),
            enabled: flags.enable ? true : flags.disable ? false : undefined,
          });
          if (flags.json) return printJson(rules);
          process.stdout.write(
            `${table(
              ["RULE", "THRESHOLD", "WINDOW", "SEVERITY", "ON", "WHAT"],
              rules.map((r) => [
                r.rule,
                String(r.threshold),
                `${r.window_seconds}s`,
                r.severity,
                r.enabled ? "yes" : "no",
                r.description,
              ]),
            )}\n`,
          );
        },
      ),
    );
}
