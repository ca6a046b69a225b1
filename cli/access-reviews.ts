// `causeloop access-review list|show|export`: a workspace's access reviews, and the signed result of a
// completed one (verify it against the installation's audit key, /.well-known/jwks.json).
import type { Command } from "commander";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type Flags = CommonFlags & { workspace: string; json?: boolean };

export function registerAccessReviews(program: Command): void {
  const reviews = program.command("access-review").description("A workspace's access reviews (started by its owners)");

  withDatabaseFlags(reviews.command("list"))
    .description("List the workspace's access reviews, newest first")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: Flags) => {
        const list = await runOperation(configFrom(flags), "access-review.list", { workspace: flags.workspace });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no access reviews\n");
        const rows = list.map((r) => [r.id, r.status, r.created_at, r.completed_at ?? "-", r.key_id ?? "-"]);
        process.stdout.write(`${table(["ID", "STATUS", "STARTED", "COMPLETED", "SIGNED BY KEY"], rows)}\n`);
      }),
    );

  withDatabaseFlags(reviews.command("show <id>"))
    .description("One review: every line with what it grants and its decision")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (id: string, flags: Flags) => {
        const review = await runOperation(configFrom(flags), "access-review.show", { workspace: flags.workspace, id });
        if (flags.json) return printJson(review);
        process.stdout.write(`${review.id} ${review.status}, started ${review.created_at}\n`);
        const rows = (review.lines ?? []).map((l) => [
          l.kind,
          l.target_id,
          String(l.details.email ?? l.details.name ?? l.details.display_name ?? ""),
          String(l.details.role ?? ""),
          l.decision ?? "-",
          l.applied_at ? "applied" : "",
        ]);
        process.stdout.write(`${table(["KIND", "TARGET", "WHO/WHAT", "ROLE", "DECISION", ""], rows)}\n`);
      }),
    );

  withDatabaseFlags(reviews.command("export <id>"))
    .description("The signed result of a completed review: {review_id, key_id, signature (JWS), result}")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--out <file>", "write it to a file instead of standard output")
    .action(
      action(async (id: string, flags: Flags & { out?: string }) => {
        const signed = await runOperation(configFrom(flags), "access-review.export", {
          workspace: flags.workspace,
          id,
        });
        if (!flags.out) return printJson(signed);
        await Bun.write(flags.out, `${JSON.stringify(signed, null, 2)}\n`);
        process.stdout.write(`wrote ${flags.out} (signed by key ${signed.key_id})\n`);
      }),
    );
}
