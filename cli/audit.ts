// `causeloop audit verify|checkpoint|export`.
import type { Command } from "commander";
import { resolve } from "node:path";
import { runOperation } from "../src/operator/operations.ts";
import type { VerifyResult } from "../src/audit/chain.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("The hash-chained audit trail: verify, sign checkpoints, export for offline verification");

  withDatabaseFlags(audit.command("verify"))
    .description("Recompute every workspace's chain and check signed checkpoints; exit 1 on any tampering")
    .option("--workspace <id>", "only this workspace")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExamples:\n  causeloop audit verify\n  causeloop audit verify --workspace ws_01j... --json")
    .action(
      action(async (flags: CommonFlags & { workspace?: string }) => {
        const report = (await runOperation(configFrom(flags), "audit.verify", { workspace: flags.workspace })) as { ok: boolean; workspaces: VerifyResult[] };
        if (flags.json) printJson(report);
        else {
          process.stdout.write(
            `${table(
              ["WORKSPACE", "RESULT", "ROWS", "LAST SEQ", "CHECKPOINT", "FIRST BROKEN", "REASON"],
              report.workspaces.map((w) => [w.workspace_id, w.ok ? "OK" : "TAMPERED", String(w.rows), String(w.last_seq ?? "-"), String(w.last_checkpoint_seq ?? "-"), String(w.first_broken_seq ?? "-"), w.reason ?? ""]),
            )}\n${report.ok ? "OK" : "TAMPERED"}: ${report.workspaces.length} workspace(s) verified\n`,
          );
        }
        if (!report.ok) process.exit(1);
      }),
    );

  withDatabaseFlags(audit.command("checkpoint"))
    .description("Sign a checkpoint of each workspace's chain head now (serve also does it every N events or M minutes)")
    .option("--workspace <id>", "only this workspace")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: CommonFlags & { workspace?: string }) => {
        const result = (await runOperation(configFrom(flags), "audit.checkpoint", { workspace: flags.workspace })) as { created: { workspace_id: string; seq: number }[] };
        if (flags.json) return printJson(result);
        process.stdout.write(`${result.created.length} checkpoint(s) signed\n`);
      }),
    );

  withDatabaseFlags(audit.command("export"))
    .description("Write a workspace's audit trail, checkpoints and public key as NDJSON for offline verification")
    .requiredOption("--workspace <id>", "workspace id")
    .requiredOption("--out <file>", "output file (mode 0600)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nVerify it anywhere with: bun scripts/verify-audit-export.ts <file>\nExample:\n  causeloop audit export --workspace ws_01j... --out acme-audit.ndjson")
    .action(
      action(async (flags: CommonFlags & { workspace: string; out: string }) => {
        const result = (await runOperation(configFrom(flags), "audit.export", { workspace: flags.workspace, out: resolve(flags.out) })) as { file: string; rows: number; checkpoints: number };
        if (flags.json) return printJson(result);
        process.stdout.write(`wrote ${result.rows} rows and ${result.checkpoints} checkpoints to ${result.file}\n`);
      }),
    );
}
