// `causeloop evidence` and `causeloop evidence verify`: the signed SOC 2 evidence pack.
import type { Command } from "commander";
import { resolve } from "node:path";
import { runOperation } from "../src/operator/transport.ts";
import { verifyEvidence } from "../src/security/evidence.ts";
import { AppError } from "../src/errors.ts";
import {
  action,
  configFrom,
  existingFile,
  printJson,
  readJwksFile,
  withDatabaseFlags,
  type CommonFlags,
} from "./output.ts";

/** A date (YYYY-MM-DD, midnight UTC) or a full ISO time, as ISO text; a bad one is a clear error. */
function when(text: string, flag: string): string {
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime()))
    throw new AppError("bad_request", `${flag} must be a date (YYYY-MM-DD) or an ISO 8601 time (got '${text}')`);
  return date.toISOString();
}

export function registerEvidence(program: Command): void {
  const evidence = withDatabaseFlags(program.command("evidence"))
    .description(
      "Write the signed SOC 2 evidence pack for a period: controls, their checks and the evidence behind them",
    )
    .option("--from <date>", "start of the period (YYYY-MM-DD or ISO time; default 30 days ago)")
    .option("--to <date>", "end of the period, exclusive (default now)")
    .option("--out <file>", "the pack to write (.tar.gz, mode 0600)", "causeloop-evidence.tar.gz")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nOpen index.html in the unpacked pack; check it with `causeloop evidence verify`.\nExample:\n  causeloop evidence --from 2026-10-01 --to 2026-12-31 --out q4-evidence.tar.gz",
    )
    .action(
      action(async (flags: CommonFlags & { from?: string; to?: string; out: string }) => {
        const to = flags.to ? when(flags.to, "--to") : new Date().toISOString();
        const from = flags.from ? when(flags.from, "--from") : new Date(Date.now() - 30 * 86_400_000).toISOString();
        if (from >= to) throw new AppError("bad_request", "--from must be before --to");
        const result = await runOperation(configFrom(flags), "evidence", { from, to, out: resolve(flags.out) });
        if (flags.json) return printJson(result);
        process.stdout.write(`wrote ${result.file}: ${result.files} files, ${result.bytes} bytes, signed\n`);
      }),
    );

  evidence
    .command("verify <pack>")
    .description(
      "Check an evidence pack: the manifest's signature and every file's SHA-256; exit 1 when anything differs",
    )
    .option("--jwks <file>", "check the signature with these keys (from /.well-known/jwks.json), not the pack's own")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nNeeds no database.\nExample:\n  causeloop evidence verify q4-evidence.tar.gz --jwks jwks.json",
    )
    .action(
      action(async (pack: string, flags: { jwks?: string; json?: boolean }) => {
        const file = await existingFile(pack, "the pack");
        const jwks = flags.jwks ? await readJwksFile(flags.jwks) : undefined;
        const verdict = await verifyEvidence(await file.bytes(), jwks);
        if (flags.json) printJson(verdict);
        else if (verdict.ok)
          process.stdout.write(
            `OK: ${verdict.files} files match the manifest, signed (checked with ${verdict.key_source})\n`,
          );
        else process.stdout.write(`INVALID:\n${verdict.problems.map((p) => `  ${p}`).join("\n")}\n`);
        if (!verdict.ok) process.exit(1);
      }),
    );
}
