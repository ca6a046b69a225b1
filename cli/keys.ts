// `causeloop keys status|rotate-kek|rotate-dek`: the master key and the per-workspace data keys.
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, progressBar, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("Envelope encryption: the master key (KEK) and per-workspace data keys (DEKs)");

  withDatabaseFlags(keys.command("status"))
    .description("KEK versions in the ring and data keys per KEK version and status")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop keys status")
    .action(
      action(async (flags: CommonFlags) => {
        const status = await runOperation(configFrom(flags), "keys.status");
        if (flags.json) return printJson(status);
        process.stdout.write(
          `master key: current v${status.kekCurrentVersion}, ring ${status.kekVersions.map((v) => `v${v}`).join(", ")}\n`,
        );
        process.stdout.write(
          `${table(
            ["KEK", "DEK STATUS", "COUNT"],
            status.deks.map((d) => [`v${d.kek_version}`, d.status, String(d.count)]),
          )}\n`,
        );
      }),
    );

  withDatabaseFlags(keys.command("rotate-kek"))
    .description("Re-wrap every data key under the current master key (no data re-encryption; resumable)")
    .option("--generate", "file-based ring: generate a new master key version first, and drop the old one when done")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nWith CAUSELOOP_MASTER_KEY, put the new key first (v2:<new>,v1:<old>), run this, then keep only v2.\nExamples:\n  causeloop keys rotate-kek --generate\n  CAUSELOOP_MASTER_KEY=v2:...,v1:... causeloop keys rotate-kek",
    )
    .action(
      action(async (flags: CommonFlags & { generate?: boolean }) => {
        const result = await runOperation(
          configFrom(flags),
          "keys.rotate-kek",
          { generate: flags.generate },
          progressBar("re-wrapping"),
        );
        if (flags.json) return printJson(result);
        process.stdout.write(
          `re-wrapped ${result.rewrapped} data keys under master key v${result.kekCurrentVersion} (${result.alreadyCurrent} already current)\n`,
        );
      }),
    );

  withDatabaseFlags(keys.command("rotate-dek"))
    .description("Give a workspace a new data key and re-encrypt its secrets (resumable); the old key is destroyed")
    .requiredOption("--workspace <id>", "workspace id (ws_...)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop keys rotate-dek --workspace ws_01j...")
    .action(
      action(async (flags: CommonFlags & { workspace: string }) => {
        const result = await runOperation(
          configFrom(flags),
          "keys.rotate-dek",
          { workspace: flags.workspace },
          progressBar("re-encrypting"),
        );
        if (flags.json) return printJson(result);
        process.stdout.write(
          `workspace ${flags.workspace}: data key v${result.newVersion}, ${result.reencrypted} secrets re-encrypted, ${result.destroyed} old keys destroyed\n`,
        );
      }),
    );
}
