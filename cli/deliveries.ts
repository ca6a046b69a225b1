// `causeloop deliveries list|replay`: a workspace's webhook deliveries and its dead-letter queue.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { AppError } from "../src/errors.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

const STATUSES = ["pending", "delivering", "delivered", "dead"] as const;

export function registerDeliveries(program: Command): void {
  const deliveries = program
    .command("deliveries")
    .description("Webhook deliveries of a workspace: what was sent, what failed, the dead-letter queue");

  withDatabaseFlags(deliveries.command("list"))
    .description("List a workspace's webhook deliveries, newest first (--status dead: the dead-letter queue)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--status <status>", `only ${STATUSES.join(", ")}`)
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop deliveries list --workspace ws_01j... --status dead")
    .action(
      action(async (flags: CommonFlags & { workspace: string; status?: string }) => {
        if (flags.status && !(STATUSES as readonly string[]).includes(flags.status))
          throw new AppError("bad_request", `--status must be one of ${STATUSES.join(", ")}`);
        const list = await runOperation(configFrom(flags), "deliveries.list", {
          workspace: flags.workspace,
          status: flags.status as (typeof STATUSES)[number] | undefined,
        });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no deliveries\n");
        process.stdout.write(
          `${table(
            ["ID", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS", "LAST", "ERROR"],
            list.map((d) => [
              d.id,
              d.webhook_id,
              d.event_type,
              d.status,
              String(d.attempts),
              d.last_status === null ? "-" : String(d.last_status),
              d.last_error ?? "",
            ]),
          )}\n`,
        );
      }),
    );

  withDatabaseFlags(deliveries.command("replay <id>"))
    .description("Send a dead-lettered (or delivered) event again, with the same webhook-id (audited)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop deliveries replay dlv_01j... --workspace ws_01j...")
    .action(
      action(async (id: string, flags: CommonFlags & { workspace: string }) => {
        const delivery = await runOperation(configFrom(flags), "deliveries.replay", { workspace: flags.workspace, id });
        if (flags.json) return printJson(delivery);
        process.stdout.write(`queued ${delivery.id} (${delivery.event_type}) for delivery again\n`);
      }),
    );
}
