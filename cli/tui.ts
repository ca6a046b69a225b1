// `causeloop tui`: the operator console.
import type { Command } from "commander";
import { action, configFrom, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerTui(program: Command): void {
  withDatabaseFlags(program.command("tui"))
    .description("Operator console: overview, tenants, roles, migrations, erasure requests, audit, jobs")
    .addHelpText(
      "after",
      "\nKeys: 1-7 switch screens, q quits; each screen shows its keys in the help bar.\nExample:\n  causeloop tui --data-dir /var/lib/causeloop",
    )
    .action(
      action(async (flags: CommonFlags) => {
        const config = configFrom(flags);
        const { runTui } = await import("../tui/main.tsx"); // Ink and React load only for the console
        process.exit(await runTui(config));
      }),
    );
}
