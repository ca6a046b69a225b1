// `causeloop audit verify|checkpoint|export`.
import type { Command } from "commander";
import { resolve } from "node:path";
import { runOperation } from "../src/operator/transport.ts";
import { parseAnchors, verifyAuditExport, type AnchorInput } from "../src/audit/verify-export.ts";
import { AppError } from "../src/errors.ts";
import {
  action,
  configFrom,
  existingFile,
  printJson,
  readJwksFile,
  table,
  withDatabaseFlags,
  type CommonFlags,
} from "./output.ts";

async function readAnchorsFile(path: string): Promise<AnchorInput[]> {
  const text = await (await existingFile(path, "the anchors")).text();
  try {
    return parseAnchors(text);
  } catch (error) {
    throw new AppError("bad_request", `--anchors ${path}: ${(error as Error).message}`);
  }
}

function positiveInt(text: string, flag: string, max?: number): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1 || (max !== undefined && Number(text) > max)) {
    throw new AppError(
      "bad_request",
      max === undefined ? `${flag} must be a positive integer` : `${flag} must be a whole number from 1 to ${max}`,
    );
  }
  return Number(text);
}

/** One short line of an entry's details for the table (the JSON output has them whole). */
function summary(after: unknown): string {
  if (!after || typeof after !== "object") return "";
  const text = Object.entries(after as Record<string, unknown>)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

export function registerAudit(program: Command): void {
  const audit = program
    .command("audit")
    .description("The hash-chained audit trail: verify, sign checkpoints, export for offline verification");

  withDatabaseFlags(audit.command("verify"))
    .description("Recompute every workspace's chain and check signed checkpoints; exit 1 on any tampering")
    .option("--workspace <id>", "only this workspace")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop audit verify\n  causeloop audit verify --workspace ws_01j... --json",
    )
    .action(
      action(async (flags: CommonFlags & { workspace?: string }) => {
        const report = await runOperation(configFrom(flags), "audit.verify", { workspace: flags.workspace });
        if (flags.json) printJson(report);
        else {
          const chains = [...report.workspaces, ...(report.operator_log ? [report.operator_log] : [])];
          process.stdout.write(
            `${table(
              ["WORKSPACE", "RESULT", "ROWS", "LAST SEQ", "CHECKPOINT", "FIRST BROKEN", "REASON"],
              chains.map((w) => [
                w.workspace_id,
                w.ok ? "OK" : "TAMPERED",
                String(w.rows),
                String(w.last_seq ?? "-"),
                String(w.last_checkpoint_seq ?? "-"),
                String(w.first_broken_seq ?? "-"),
                w.reason ?? "",
              ]),
            )}\n${report.anchors ? `anchors: ${report.anchors.checked} checked against ${report.anchors.location}${report.anchors.problems.map((p) => `\n  ${p.stream} seq ${p.seq}: ${p.reason}`).join("")}\n` : ""}${report.ok ? "OK" : "TAMPERED"}: ${report.workspaces.length} workspace(s)${report.operator_log ? " and the operator log" : ""} verified\n`,
          );
        }
        if (!report.ok) process.exit(1);
      }),
    );

  withDatabaseFlags(audit.command("operator-log"))
    .description(
      "Operator actions that belong to no single workspace (migrations, role setup, master key rotation, jobs run by hand, offboarding), newest first",
    )
    .option("--action <action>", "only this action, e.g. migration.applied or tenant.purged")
    .option("--limit <n>", "rows to show (1-1000)", "50")
    .option("--before <seq>", "rows older than this sequence number (paging)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nThe log is hash-chained and signed like a workspace's audit trail; `causeloop audit verify` checks it.\nExamples:\n  causeloop audit operator-log\n  causeloop audit operator-log --action tenant.purged --json",
    )
    .action(
      action(async (flags: CommonFlags & { action?: string; limit: string; before?: string }) => {
        const limit = positiveInt(flags.limit, "--limit", 1000);
        const before = flags.before === undefined ? undefined : positiveInt(flags.before, "--before");
        const rows = await runOperation(configFrom(flags), "audit.operator-log", {
          action: flags.action,
          limit,
          before,
        });
        if (flags.json) return printJson(rows);
        process.stdout.write(
          `${table(
            ["SEQ", "TIME", "ACTION", "ACTOR", "TARGET", "DETAILS"],
            rows.map((r) => [
              String(r.seq),
              r.created_at.slice(0, 19).replace("T", " "),
              r.action,
              r.actor_id ?? "-",
              [r.target_type, r.target_id].filter(Boolean).join(" ") || "-",
              summary(r.after),
            ]),
          )}\n`,
        );
      }),
    );

  withDatabaseFlags(audit.command("checkpoint"))
    .description(
      "Sign a checkpoint of each workspace's chain head now (serve also does it every N events or M minutes)",
    )
    .option("--workspace <id>", "only this workspace")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: CommonFlags & { workspace?: string }) => {
        const result = await runOperation(configFrom(flags), "audit.checkpoint", { workspace: flags.workspace });
        if (flags.json) return printJson(result);
        process.stdout.write(`${result.created.length} checkpoint(s) signed\n`);
      }),
    );

  withDatabaseFlags(audit.command("export"))
    .description("Write a workspace's audit trail, checkpoints and public key as NDJSON for offline verification")
    .requiredOption("--workspace <id>", "workspace id")
    .requiredOption("--out <file>", "output file (mode 0600)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nVerify it anywhere with: causeloop audit verify-export <file> [--jwks jwks.json]\nExample:\n  causeloop audit export --workspace ws_01j... --out acme-audit.ndjson",
    )
    .action(
      action(async (flags: CommonFlags & { workspace: string; out: string }) => {
        const result = await runOperation(configFrom(flags), "audit.export", {
          workspace: flags.workspace,
          out: resolve(flags.out),
        });
        if (flags.json) return printJson(result);
        process.stdout.write(`wrote ${result.rows} rows and ${result.checkpoints} checkpoints to ${result.file}\n`);
      }),
    );

  audit
    .command("verify-export <file>")
    .description(
      "Verify an audit export offline (GET /v1/audit/export or audit export): hash chain, links, checkpoints' signatures; exit 1 when tampered",
    )
    .option("--jwks <file>", "check signatures with these keys (from /.well-known/jwks.json), not the export's own")
    .option(
      "--anchors <file>",
      "checkpoints your receiver got from the audit.checkpoint webhook (NDJSON or JSON array): a tail cut off with its checkpoint is caught",
    )
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nNeeds no database and no server.\nExample:\n  curl -H 'Authorization: Bearer clp_pat_...' https://causeloop.example.com/v1/audit/export > trail.ndjson\n  curl https://causeloop.example.com/.well-known/jwks.json > jwks.json\n  causeloop audit verify-export trail.ndjson --jwks jwks.json",
    )
    .action(
      action(async (file: string, flags: { jwks?: string; anchors?: string; json?: boolean }) => {
        const text = await (await existingFile(file, "the export")).text();
        const jwks = flags.jwks ? await readJwksFile(flags.jwks) : undefined;
        const anchors = flags.anchors ? await readAnchorsFile(flags.anchors) : undefined;
        const verdict = await verifyAuditExport(text, jwks, anchors);
        if (flags.json) printJson(verdict);
        else if (verdict.ok)
          process.stdout.write(
            `OK: ${verdict.rows} rows and ${verdict.checkpoints} signed checkpoints of ${verdict.workspace_id} verified with ${verdict.key_source}; last seq ${verdict.last_seq ?? "-"}${verdict.anchors_checked === null ? "" : `; ${verdict.anchors_checked} anchored checkpoints matched`}\n`,
          );
        else
          process.stdout.write(
            `TAMPERED: ${verdict.reason}${verdict.first_broken_seq === null ? "" : ` (first broken seq ${verdict.first_broken_seq})`}\n`,
          );
        if (!verdict.ok) process.exit(1);
      }),
    );
}
