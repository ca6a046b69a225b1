// `causeloop backup`, `backup list`, `backup prune`, `backup verify` and `causeloop restore`, on either engine.
import type { Command } from "commander";
import { resolve } from "node:path";
import { installedKeyRing, installedRtbfKey, manifestKeys } from "../src/backups/keys.ts";
import { fetchOffsite, offsiteFor } from "../src/backups/offsite.ts";
import type { ReplayResult } from "../src/backups/replay.ts";
import { restoreBackup, type RestoreResult } from "../src/backups/restore.ts";
import { restoreToDatabase, type DatabaseRestoreResult } from "../src/backups/restore-postgres.ts";
import { BACKUP_ID, listBackups } from "../src/backups/store.ts";
import type { VerifyReport } from "../src/backups/verify.ts";
import { AppError } from "../src/errors.ts";
import { operatorIdentity } from "../src/audit/operator-log.ts";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, printJson, readJwksFile, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

/** An id stays an id; anything else is a manifest file, made absolute (a running server may resolve it). */
const reference = (ref: string) => (BACKUP_ID.test(ref) ? ref : resolve(ref));

function printReport(report: VerifyReport): void {
  for (const check of report.checks)
    process.stdout.write(`${check.ok ? "ok  " : "FAIL"}  ${check.name}: ${check.detail}\n`);
  process.stdout.write(
    report.ok
      ? `OK: backup ${report.id} verified in ${report.seconds} s (signature checked with ${report.key_source})\n`
      : `INVALID: backup ${report.id ?? report.manifest}: ${report.problems[0]}\n`,
  );
}

/** What the erasure ledger's replay re-applied (restore prints it: a DPO reads this). */
function printReplay(replay: ReplayResult): void {
  process.stdout.write(
    `  erasure ledger: ${replay.records} record(s) since ${replay.since} re-applied: ${replay.erased.length} erasure(s), ${replay.purged.length} tenant purge(s), ${replay.keys_rewrapped} data key(s) put under the current master key, ${replay.keys_destroyed} destroyed since kept destroyed\n`,
  );
  for (const e of replay.erased)
    process.stdout.write(`    erased again: request ${e.request_id} in ${e.workspace_id} (${e.rows} rows)\n`);
  for (const p of replay.purged) process.stdout.write(`    purged again: ${p.slug} (${p.workspaces} workspaces)\n`);
}

export function registerBackup(program: Command): void {
  const backup = withDatabaseFlags(program.command("backup"))
    .description(
      "Back up the database while it serves: an encrypted snapshot (PostgreSQL: pg_dump) and its signed manifest (see 'Backups' in the README)",
    )
    .option("--out <dir>", "the directory to write to (default CAUSELOOP_BACKUP_DIR, <data dir>/backups)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nEmbedded: runs inside `serve` when it holds the data dir. PostgreSQL: pg_dump (of the server's major version or newer;\nCAUSELOOP_PG_BIN_DIR) with DATABASE_OWNER_URL. Keep the master key apart from the backups.\nExamples:\n  causeloop backup --data-dir /var/lib/causeloop\n  causeloop --env-file /etc/causeloop/causeloop.env backup   (with DATABASE_OWNER_URL set)",
    )
    .action(
      action(async (flags: CommonFlags & { out?: string }) => {
        const config = configFrom(flags);
        const result = await runOperation(config, "backup.create", flags.out ? { out: resolve(flags.out) } : {});
        if (flags.json) return printJson(result);
        const rate =
          result.seconds > 0 ? `, ${(result.snapshot_bytes / 1_048_576 / result.seconds).toFixed(1)} MiB/s` : "";
        process.stdout.write(
          `backup ${result.id}: ${mib(result.encrypted_bytes)} encrypted in ${result.seconds} s${rate}, ${result.tables} tables, ${result.workspaces} workspaces\n  ${result.data_file}\n  ${result.manifest} (signed)\n`,
        );
        if (result.offsite) process.stdout.write(`  copied to ${result.offsite}\n`);
      }),
    );

  withDatabaseFlags(backup.command("list"))
    .description("Backups whose signed manifest exists, oldest first")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop backup list --json")
    .action(
      action(async (flags: CommonFlags, command: Command) => {
        const config = configFrom({ ...command.parent?.opts(), ...flags });
        const backups = listBackups(config.backupDir);
        const offsite = offsiteFor(config);
        const remote = offsite ? await offsite.list() : [];
        const local = new Set(backups.map((b) => b.id));
        const offsiteOnly = remote.filter((id) => !local.has(id));
        if (flags.json ?? command.parent?.opts().json)
          return printJson({
            directory: config.backupDir,
            backups: backups.map((b) => ({ ...b, offsite: offsite ? remote.includes(b.id) : null })),
            offsite: offsite ? { where: offsite.where, only_there: offsiteOnly } : null,
          });
        for (const id of offsiteOnly)
          process.stdout.write(`${id}: in ${offsite?.where} only (verify or restore it by id to fetch it)\n`);
        if (backups.length === 0) return void process.stdout.write(`no backups in ${config.backupDir}\n`);
        process.stdout.write(
          `${table(
            ["ID", "FINISHED", "SIZE", "KEK", "VERSION", "SHA256", "OFFSITE"],
            backups.map((b) => [
              b.id,
              b.finished_at,
              b.data_file_present ? mib(b.encrypted_bytes) : "FILE MISSING",
              `v${b.kek_version}`,
              b.causeloop_version,
              `${b.sha256.slice(0, 12)}...`,
              offsite ? (remote.includes(b.id) ? "yes" : "NOT COPIED") : "-",
            ]),
          )}\n`,
        );
      }),
    );

  withDatabaseFlags(backup.command("prune"))
    .description(
      "Remove backups past retention: older than CAUSELOOP_BACKUP_KEEP_DAYS and not among the CAUSELOOP_BACKUP_KEEP_COUNT newest (never the newest verified one)",
    )
    .option("--dry-run", "say what would be removed, remove nothing")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nThe scheduled backup job prunes after each backup.\nExample:\n  causeloop backup prune --dry-run",
    )
    .action(
      action(async (flags: CommonFlags & { dryRun?: boolean }, command: Command) => {
        const config = configFrom({ ...command.parent?.opts(), ...flags });
        const result = await runOperation(config, "backup.prune", { dryRun: Boolean(flags.dryRun) });
        if (flags.json ?? command.parent?.opts().json) return printJson(result);
        const verb = result.dry_run ? "would remove" : "removed";
        for (const b of result.pruned) process.stdout.write(`${verb} ${b.id} (${b.age_days} days old): ${b.reason}\n`);
        process.stdout.write(
          `${result.pruned.length} ${result.dry_run ? "to remove" : "removed"}, ${result.kept.length} kept in ${result.directory}\n`,
        );
      }),
    );

  withDatabaseFlags(backup.command("verify <backup>"))
    .description(
      "Check a backup (id or manifest file): signature, sha256, decryption, then a scratch copy's row counts, audit chain heads, migrations and RLS; exit 1 naming what differs",
    )
    .option("--jwks <file>", "check the manifest's signature with these keys, not the installation's audit key")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  causeloop backup verify bkp_01jd... --json")
    .action(
      action(async (ref: string, flags: CommonFlags & { jwks?: string }, command: Command) => {
        const config = configFrom({ ...command.parent?.opts(), ...flags });
        const jwks = flags.jwks ? await readJwksFile(flags.jwks) : undefined;
        const report = await runOperation(config, "backup.verify", {
          ref: reference(ref),
          ...(jwks ? { jwks: { keys: jwks.keys.map((k) => ({ x: k.x, kid: k.kid })) } } : {}),
        });
        if (flags.json ?? command.parent?.opts().json) printJson(report);
        else printReport(report);
        if (!report.ok) process.exit(1);
      }),
    );

  withDatabaseFlags(program.command("restore [backup]"))
    .description(
      "Restore a backup (id or manifest file), verified as it is restored: into a new data dir (embedded) or an empty PostgreSQL database",
    )
    .option("--to-data-dir <dir>", "embedded: the data dir to restore into (must be empty unless --force)")
    .option(
      "--to-database-url <url>",
      "PostgreSQL: the database to restore into, as its owner (must be empty unless --force)",
    )
    .option(
      "--force",
      "data dir: move a non-empty target aside (never deleted); database: replace its objects with the backup's",
    )
    .option("--jwks <file>", "check the manifest's signature with these keys, not the installation's audit key")
    .option(
      "--replay-only",
      "no restore: replay the erasure ledger on the configured database (a restore left pending, or a point-in-time recovery with --since)",
    )
    .option("--since <time>", "with --replay-only: replay the records at or after this time (ISO 8601)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nThe master key (and server keys) are read from --data-dir / CAUSELOOP_DATA_DIR or their variables (and, for a data dir, copied into it).\nEvery erasure and tenant purge recorded in the erasure ledger (beside the backups) after the backup is applied again before the restored database is handed over.\nExamples:\n  causeloop restore bkp_01jd... --to-data-dir /var/lib/causeloop-restored\n  causeloop restore bkp_01jd... --to-database-url postgres://owner:...@db:5432/causeloop_restored\n  causeloop restore --replay-only --since 2026-12-01T03:00:00Z",
    )
    .action(
      action(
        async (
          ref: string | undefined,
          flags: CommonFlags & {
            toDataDir?: string;
            toDatabaseUrl?: string;
            force?: boolean;
            jwks?: string;
            replayOnly?: boolean;
            since?: string;
          },
        ) => {
          const config = configFrom(flags);
          if (flags.replayOnly) {
            if (ref || flags.toDataDir || flags.toDatabaseUrl)
              throw new AppError("validation_failed", "--replay-only takes no backup and no target");
            if (flags.since && Number.isNaN(Date.parse(flags.since)))
              throw new AppError("validation_failed", `--since must be an ISO 8601 time (got "${flags.since}")`);
            const replay = await runOperation(
              config,
              "backup.replay",
              flags.since ? { since: new Date(flags.since).toISOString() } : {},
            );
            if (flags.json) return printJson(replay);
            return printReplay(replay);
          }
          if (!ref) throw new AppError("validation_failed", "restore needs a backup (id or manifest file)");
          if (Boolean(flags.toDataDir) === Boolean(flags.toDatabaseUrl))
            throw new AppError("bad_request", "name one target: --to-data-dir <dir> or --to-database-url <url>");
          const keys = await manifestKeys(config, flags.jwks ? await readJwksFile(flags.jwks) : undefined);
          // A lost machine: the backup and the erasure ledger come from the bucket.
          await fetchOffsite(config, config.backupDir, ref);
          await offsiteFor(config)?.pullLedger(config.backupDir);
          const deps = {
            dir: config.backupDir,
            kek: installedKeyRing(config),
            ...keys,
            actor: operatorIdentity(),
            hmacKey: installedRtbfKey(config),
          };
          const force = flags.force ?? false;
          if (flags.toDatabaseUrl) {
            const result = await restoreToDatabase(
              reference(ref),
              { ...deps, binDir: config.pgBinDir, anchorFile: config.auditAnchorFile },
              { url: flags.toDatabaseUrl, force },
            );
            return flags.json ? printJson(result) : printDatabaseRestore(result);
          }
          const result = await restoreBackup(
            reference(ref),
            { ...deps, keysFrom: config.dataDir, anchorFile: config.auditAnchorFile },
            { target: flags.toDataDir as string, force },
          );
          return flags.json ? printJson(result) : printDataDirRestore(result);
        },
      ),
    );
}

function printDataDirRestore(result: RestoreResult): void {
  process.stdout.write(
    `restored backup ${result.id} into ${result.data_dir} in ${result.seconds} s (verified: ${result.verification.checks.length} checks)\n`,
  );
  if (result.copied_keys.length) process.stdout.write(`  key files copied: ${result.copied_keys.join(", ")}\n`);
  printReplay(result.replay);
  if (result.anchors)
    process.stdout.write(
      `  anchored checkpoints carried over: ${result.anchors.kept} (${result.anchors.dropped} signed after the backup left out)\n`,
    );
  if (result.moved_aside) process.stdout.write(`  the previous data dir was moved aside to ${result.moved_aside}\n`);
}

function printDatabaseRestore(result: DatabaseRestoreResult): void {
  process.stdout.write(
    `restored backup ${result.id} into ${result.database} in ${result.seconds} s (verified: ${result.verification.checks.length} checks)\n`,
  );
  printReplay(result.replay);
  if (result.replaced) process.stdout.write("  its previous objects were replaced (--force)\n");
  if (result.created_roles.length) process.stdout.write(`  roles created: ${result.created_roles.join(", ")}\n`);
  if (result.anchors)
    process.stdout.write(
      `  audit anchors up to the backup's chain heads: ${result.anchors.file} (${result.anchors.kept} kept, ${result.anchors.dropped} signed after the backup left out): use it as CAUSELOOP_AUDIT_ANCHOR_FILE with the restored database\n`,
    );
  if (result.app_role_password)
    process.stdout.write(
      `  causeloop_app's password (shown once, store it now; put it in DATABASE_URL): ${result.app_role_password}\n`,
    );
}
