// `causeloop setup`: a PostgreSQL installation in one command (src/operator/setup.ts does the work).
import type { Command } from "commander";
import { resolve } from "node:path";
import { AppError } from "../src/errors.ts";
import { runSetup } from "../src/operator/setup.ts";
import { action, printJson, table } from "./output.ts";

interface SetupFlags {
  databaseOwnerUrl?: string;
  stateDir?: string;
  envFile?: string;
  appUrlHost?: string;
  rotate?: boolean;
  json?: boolean;
}

const isRoot = () => process.getuid?.() === 0;

export function registerSetup(program: Command): void {
  program
    .command("setup")
    .description(
      "Set up PostgreSQL in one step: migrate, create or repair causeloop_app, generate the keys, write the env file, run doctor",
    )
    .option(
      "--database-owner-url <url>",
      "the owner connection: runs DDL, creates the runtime role (env DATABASE_OWNER_URL)",
    )
    .option(
      "--state-dir <dir>",
      "where keys, exports and the audit anchor file live (default /var/lib/causeloop as root; env CAUSELOOP_DATA_DIR)",
    )
    .option("--env-file <file>", "the env file to write, mode 0600 (default /etc/causeloop/causeloop.env as root)")
    .option("--app-url-host <host[:port]>", "the host serve reaches PostgreSQL at, when not the owner URL's")
    .option("--rotate", "give causeloop_app a new password (a repeat run keeps the env file's otherwise)")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      `
The owner URL is used, not stored: the env file holds DATABASE_URL (causeloop_app), CAUSELOOP_DATA_DIR and
CAUSELOOP_MASTER_KEY_FILE. Run it again at any time: it repairs what drifted and keeps what works.
Examples:
  sudo causeloop setup --database-owner-url postgres://owner:...@db:5432/causeloop
  causeloop setup --database-owner-url postgres://owner:...@localhost/causeloop --state-dir ./state --env-file ./causeloop.env
  causeloop --env-file ./causeloop.env serve`,
    )
    .action(
      action(async (flags: SetupFlags) => {
        const ownerUrl = flags.databaseOwnerUrl ?? process.env.DATABASE_OWNER_URL;
        if (!ownerUrl) throw new AppError("bad_request", "--database-owner-url (or DATABASE_OWNER_URL) is required");
        const stateDir = flags.stateDir ?? process.env.CAUSELOOP_DATA_DIR ?? (isRoot() ? "/var/lib/causeloop" : "");
        if (!stateDir)
          throw new AppError("bad_request", "--state-dir is required when not run as root (keys and exports go there)");
        const envFile = flags.envFile ?? (isRoot() ? "/etc/causeloop/causeloop.env" : "");
        if (!envFile) throw new AppError("bad_request", "--env-file is required when not run as root");
        const result = await runSetup(
          {
            ownerUrl,
            stateDir: resolve(stateDir),
            envFile: resolve(envFile),
            appUrlHost: flags.appUrlHost,
            rotate: flags.rotate,
          },
          process.env,
        );
        if (flags.json) printJson(result);
        else {
          const out = (line: string) => process.stdout.write(`${line}\n`);
          out(
            result.migrations_applied.length > 0
              ? `migrations: applied ${result.migrations_applied.length} (${result.migrations_applied.at(-1)} is the newest)`
              : "migrations: up to date",
          );
          out(
            `role ${result.role.name}: ${result.role.created ? "created" : "repaired"}, password ${result.role.password} (it is in the env file only)`,
          );
          out(`master key: ${result.master_key.generated ? "generated in" : "kept,"} ${result.master_key.source}`);
          out(
            `server keys: ${result.server_keys_generated.length > 0 ? `generated ${result.server_keys_generated.join(", ")}` : "kept"} in ${result.state_dir}`,
          );
          out(`wrote ${result.env_file} (mode 0600): DATABASE_URL, CAUSELOOP_DATA_DIR, CAUSELOOP_MASTER_KEY_FILE`);
          out("");
          out(
            table(
              ["CHECK", "RESULT", "DETAIL"],
              result.doctor.checks.map((c) => [c.name, c.ok ? "PASS" : "FAIL", c.detail]),
            ),
          );
          out("");
          out(
            result.doctor.ok
              ? `Ready. Start it with: causeloop --env-file ${result.env_file} serve   (or: systemctl enable --now causeloop)`
              : "Doctor found problems (above): fix them and run setup again.",
          );
        }
        if (!result.doctor.ok) process.exit(1);
      }),
    );
}
