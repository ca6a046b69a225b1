// `causeloop rtbf list|show|approve|reject|hold|vacuum|verify-certificate`: the operator's side of erasure requests.
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { runOperation } from "../src/operator/transport.ts";
import { isRtbfStatus, RTBF_STATUSES } from "../src/governance/rtbf.ts";
import type { ReviewedRequest } from "../src/governance/rtbf-review.ts";
import { certificateJws, parseJwks, verifyCertificate } from "../src/governance/certificates.ts";
import { AppError } from "../src/errors.ts";
import { confirmYes } from "./confirm.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type Row = ReviewedRequest;

function show(r: Row): string {
  return [
    `request   ${r.id} (workspace ${r.workspace_id})`,
    `status    ${r.status.toUpperCase()}${r.overdue ? "  ** OVERDUE **" : ""}`,
    `subject   ${r.subject_ref}`,
    `received  ${r.received_at}   due ${r.due_at}`,
    ...(r.reason ? [`reason    ${r.reason}`] : []),
    ...(r.status_reason ? [`decision  ${r.status_reason}`] : []),
    ...(r.completed_at ? [`completed ${r.completed_at}`] : []),
    ...(r.vacuum_status === "pending"
      ? [
          `vacuum    PENDING (${(r.vacuum_tables ?? []).join(", ")}): the erased values remain in dead tuples; run 'causeloop rtbf vacuum ${r.id}'`,
        ]
      : []),
    ...(r.vacuum_status === "completed" ? [`vacuum    done ${r.vacuumed_at ?? ""}`] : []),
  ].join("\n");
}

export function registerRtbf(program: Command): void {
  const rtbf = program
    .command("rtbf")
    .description("GDPR Art. 17 erasure requests (review and decide across workspaces)");

  withDatabaseFlags(rtbf.command("list"))
    .description("Erasure requests of every workspace by due date")
    .option("--overdue", "only open requests past their 30-day deadline")
    .option("--status <status>", "only this status")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop rtbf list --overdue")
    .action(
      action(async (flags: CommonFlags & { overdue?: boolean; status?: string }) => {
        if (flags.status !== undefined && !isRtbfStatus(flags.status))
          throw new AppError(
            "validation_failed",
            `--status must be one of ${RTBF_STATUSES.join(", ")} (got "${flags.status}")`,
          );
        const rows = await runOperation(configFrom(flags), "rtbf.list", {
          overdue: flags.overdue,
          status: flags.status,
        });
        if (flags.json) return printJson(rows);
        process.stdout.write(
          `${table(
            ["REQUEST", "WORKSPACE", "STATUS", "DUE", "OVERDUE"],
            rows.map((r) => [
              r.id,
              r.workspace_id,
              r.status.toUpperCase(),
              r.due_at.slice(0, 10),
              r.overdue ? "OVERDUE" : "",
            ]),
          )}\n${rows.length} request(s)\n`,
        );
      }),
    );

  withDatabaseFlags(rtbf.command("show <id>"))
    .description("One erasure request")
    .option("--json", "machine-readable output")
    .action(
      action(async (id: string, flags: CommonFlags) => {
        const row = await runOperation(configFrom(flags), "rtbf.show", { id });
        if (flags.json) return printJson(row);
        process.stdout.write(`${show(row)}\n`);
      }),
    );

  for (const [decision, description, needsReason] of [
    ["approve", "Approve and execute the erasure (ends with a signed certificate)", false],
    ["reject", "Reject the request", true],
    ["hold", "Put the request on hold", true],
  ] as const) {
    const command = withDatabaseFlags(rtbf.command(`${decision} <id>`))
      .description(description)
      .option("--json", "machine-readable output");
    if (needsReason) command.requiredOption("--reason <text>", "why (kept with the request and in the compliance log)");
    else command.option("--yes", "do not ask before erasing (required when not on a terminal)");
    command
      .addHelpText(
        "after",
        `\nExample:\n  causeloop rtbf ${decision} rtbf_01j...${needsReason ? ' --reason "..."' : " --yes"}`,
      )
      .action(
        action(async (id: string, flags: CommonFlags & { reason?: string; yes?: boolean }) => {
          if (decision === "approve" && !flags.yes) {
            const request = await runOperation(configFrom(flags), "rtbf.show", { id });
            await confirmYes(
              `Erase subject ${request.subject_ref.slice(0, 12)}… of workspace ${request.workspace_id} now (request ${id}, ${request.status}); this cannot be undone?`,
            );
          }
          const row = await runOperation(configFrom(flags), "rtbf.decide", { id, decision, reason: flags.reason });
          if (flags.json) return printJson(row);
          process.stdout.write(`${id}: ${row.status.toUpperCase()}\n`);
        }),
      );
  }

  withDatabaseFlags(rtbf.command("vacuum [id]"))
    .description("VACUUM the tables completed erasures touched (all pending, or one request), as the table owner")
    .option(
      "--full",
      "VACUUM FULL: rewrite the tables so no pruned tuple's bytes stay on disk (locks each table while it runs)",
    )
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nserve does this itself in embedded mode and when DATABASE_OWNER_URL is set.\nExample:\n  DATABASE_OWNER_URL=postgres://... causeloop rtbf vacuum",
    )
    .action(
      action(async (id: string | undefined, flags: CommonFlags & { full?: boolean }) => {
        const result = await runOperation(configFrom(flags), "rtbf.vacuum", { id, full: Boolean(flags.full) });
        if (flags.json) return printJson(result);
        process.stdout.write(
          result.requests.length
            ? `vacuumed${result.full ? " (full)" : ""} ${result.tables.join(", ")} for ${result.requests.length} erasure(s)${result.checkpoint ? " (checkpoint done)" : ""}\n`
            : "no erasure waits for its VACUUM\n",
        );
      }),
    );

  withDatabaseFlags(rtbf.command("verify-certificate <file>"))
    .description("Verify an erasure certificate (the JWS, or the JSON from the API) offline; exit 1 when invalid")
    .option("--jwks <file>", "public keys (/.well-known/jwks.json); default: this installation's signing key")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop rtbf verify-certificate cert.json --jwks jwks.json")
    .action(
      action(async (file: string, flags: CommonFlags & { jwks?: string }) => {
        const read = (path: string) => {
          try {
            return readFileSync(path, "utf8");
          } catch {
            throw new AppError("bad_request", `cannot read ${path}`);
          }
        };
        const jws = certificateJws(read(file));
        const jwks = flags.jwks ? parseJwks(read(flags.jwks)) : await runOperation(configFrom(flags), "rtbf.jwks");
        const { claims } = await verifyCertificate(jws, jwks);
        if (flags.json) printJson({ valid: Boolean(claims), claims: claims ?? null });
        else if (claims)
          process.stdout.write(
            `VALID: request ${claims.request_id}, workspace ${claims.workspace_id}, completed ${claims.completed_at}\n`,
          );
        else process.stdout.write("INVALID: the signature does not verify with the given keys\n");
        if (!claims) process.exit(1);
      }),
    );
}
