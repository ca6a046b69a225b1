// `causeloop serve` and `causeloop demo`.
import type { Command } from "commander";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, resolveLogFormat } from "../src/log.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { runOperation } from "../src/operator/transport.ts";
import { action, configFrom, withDatabaseFlags } from "./output.ts";

interface ServeFlags {
  dataDir?: string;
  databaseUrl?: string;
  host?: string;
  port?: string;
  migrate?: boolean;
  insecureAllowBypassRls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * Signal handling is installed before the server starts: a SIGTERM that arrives while it is still starting
 * (it answers /readyz before its scheduler and workers are up) shuts it down cleanly once it is up.
 */
function onStopSignal(): { attach(server: RunningServer): Promise<void> } {
  let server: RunningServer | undefined;
  let pending: string | undefined;
  const stop = (signal: string) => {
    if (server) void server.shutdown(signal);
    else pending = signal;
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // SIGHUP: re-read the TLS certificate and key (a renewed certificate) without dropping connections.
  process.on("SIGHUP", () => void server?.reloadTls());
  return {
    attach(running) {
      server = running;
      if (pending) void running.shutdown(pending);
      return running.closed;
    },
  };
}

/** Whether stdout is a terminal (a person reading): CAUSELOOP_LOG_FORMAT=auto prints text then. */
const isTerminal = () => process.stdout.isTTY === true;

export function registerServe(program: Command): void {
  withDatabaseFlags(program.command("serve"))
    .description("Serve the HTTP API (embedded PGlite without DATABASE_URL, PostgreSQL with it)")
    .option("--host <host>", "address to listen on (env CAUSELOOP_HOST, default 127.0.0.1)")
    .option("--port <port>", "port to listen on, 0 for any free port (env CAUSELOOP_PORT, default 8080)")
    .option("--migrate", "on PostgreSQL, apply pending migrations first (needs DATABASE_OWNER_URL)")
    .option("--insecure-allow-bypass-rls", "serve even when the runtime role bypasses RLS (local debugging only)")
    .option(
      "--tls-cert <file>",
      "serve HTTPS with this PEM certificate chain (env CAUSELOOP_TLS_CERT_FILE); SIGHUP re-reads it",
    )
    .option("--tls-key <file>", "the certificate's PEM private key (env CAUSELOOP_TLS_KEY_FILE)")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop serve --data-dir /var/lib/causeloop --port 8080\n  DATABASE_URL=postgres://causeloop_app:...@db/causeloop causeloop serve --host 0.0.0.0",
    )
    .action(
      action(async (flags: ServeFlags) => {
        const config = configFrom(flags);
        const logger = createLogger(config.logLevel, undefined, resolveLogFormat(config.logFormat, isTerminal()));
        const signals = onStopSignal();
        await signals.attach(await startServer(config, logger));
        process.exit(0);
      }),
    );

  program
    .command("demo")
    .description("Serve a throw-away embedded database with a seeded demo organization")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8080")
    .option("--keep", "keep the demo data directory when stopping")
    .addHelpText("after", "\nExample:\n  causeloop demo --port 8080")
    .action(
      action(async (flags: { host: string; port: string; keep?: boolean }) => {
        const dataDir = mkdtempSync(join(tmpdir(), "causeloop-demo-"));
        const config = configFrom({ dataDir, host: flags.host, port: flags.port });
        const cleanup = () => {
          if (!flags.keep) rmSync(dataDir, { recursive: true, force: true });
        };
        const signals = onStopSignal();
        let server: RunningServer;
        try {
          const logger = createLogger(config.logLevel, undefined, resolveLogFormat(config.logFormat, isTerminal()));
          server = await startServer(config, logger);
        } catch (error) {
          cleanup();
          throw error;
        }
        const demo = await runOperation(config, "demo.seed");
        const auth = demo.admin
          ? `-H "Authorization: Bearer ${demo.admin.token}"`
          : "-H 'Authorization: Bearer <token>'";
        process.stderr.write(
          [
            "",
            `Causeloop demo is serving on ${server.url} (embedded PGlite in ${dataDir}${flags.keep ? ", kept" : ", removed on exit"}).`,
            `Seeded organization '${demo.organization}' (workspace ${demo.workspace_id}): ${demo.issues} issues, members of every role, one completed erasure.`,
            ...(demo.admin
              ? [
                  "",
                  "Sign in (shown once):",
                  `  email     ${demo.admin.email}`,
                  `  password  ${demo.admin.password}`,
                  `  token     ${demo.admin.token}`,
                ]
              : []),
            "",
            "Try:",
            `  curl ${auth} "${server.url}/v1/issues"`,
            `  curl ${auth} "${server.url}/v1/members"`,
            `  curl ${auth} "${server.url}/v1/audit?limit=5"`,
            `  open ${server.url}/docs          (API reference with try-it; paste the token under Authentication)`,
            `  causeloop tui --data-dir ${dataDir}     (the operator console on the same data, while the demo runs)`,
            "Stop with Ctrl-C.",
            "",
          ].join("\n"),
        );
        await signals.attach(server);
        cleanup();
        process.exit(0);
      }),
    );
}
