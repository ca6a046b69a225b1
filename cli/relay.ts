// `causeloop relay --config relay.json`: the agent in the client's network (src/relay/agent/). And for the
// operator who sets one up on a client's behalf: `causeloop relay-token create|list|rotate|revoke` and
// `causeloop relays` (connections). Owners and admins do the same at /v1/relay-tokens and /v1/relays.
import type { Command } from "commander";
import { createLogger, resolveLogFormat } from "../src/log.ts";
import { runOperation } from "../src/operator/transport.ts";
import { loadRelayConfig, RelayConfigError } from "../src/relay/agent/config.ts";
import { verifyRelayLog } from "../src/relay/agent/audit-log.ts";
import { startRelay } from "../src/relay/agent/agent.ts";
import { action, configFrom, printJson, table, withDatabaseFlags, type CommonFlags } from "./output.ts";

type WorkspaceFlags = CommonFlags & { workspace: string; json?: boolean };

/** The server answers the relay's token (GET /v1/relay/connect without an upgrade): the way in works. */
async function checkServer(server: URL, token: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(new URL("/v1/relay/connect", server), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new RelayConfigError(`server ${server.origin}: unreachable (${(error as Error).message})`);
  }
  if (response.status === 401)
    throw new RelayConfigError(`server ${server.origin}: the relay token was refused (revoked, rotated or mistyped)`);
  if (response.status !== 200) throw new RelayConfigError(`server ${server.origin}: answered ${response.status}`);
  const body = (await response.json()) as { relay: string; protocol_version: number };
  process.stdout.write(`server ${server.origin}: ok (relay ${body.relay}, protocol ${body.protocol_version})\n`);
}

function registerAgent(program: Command): void {
  program
    .command("relay")
    .description("Run the relay: read-only, policy-checked, masked database access for Causeloop, dialling out")
    .option("--config <file>", "the relay's configuration (README: relay.json)", "relay.json")
    .option("--check", "validate the configuration and run the start-up checks against each database, then exit")
    .option("--verify-log <file>", "re-compute the hash chain of a relay audit log and exit")
    .option("--log-format <format>", "json or text (default: text on a terminal)")
    .addHelpText(
      "after",
      "\nExamples:\n  causeloop relay --config /etc/causeloop/relay.json\n  causeloop relay --config relay.json --check",
    )
    .action(
      action(async (flags: { config: string; check?: boolean; verifyLog?: string; logFormat?: "json" | "text" }) => {
        if (flags.verifyLog) {
          const verdict = verifyRelayLog(flags.verifyLog);
          if (!verdict.ok) throw new RelayConfigError(`${flags.verifyLog}: line ${verdict.line} ${verdict.reason}`);
          process.stdout.write(`${flags.verifyLog}: ${verdict.entries} entries, chain intact\n`);
          return;
        }
        const config = loadRelayConfig(flags.config);
        const logger = createLogger(
          (process.env.CAUSELOOP_LOG_LEVEL as "info" | undefined) ?? "info",
          undefined,
          resolveLogFormat(flags.logFormat ?? "auto", process.stdout.isTTY === true),
        );
        if (flags.check) {
          await checkServer(config.server, config.token);
          const { executorFor } = await import("../src/relay/agent/executors.ts");
          for (const db of config.databases) {
            const executor = executorFor(db, config.limits.timeout_ms);
            try {
              const warnings = await executor.check();
              process.stdout.write(`${db.name} (${db.kind}): ok${warnings.length ? `; ${warnings.join("; ")}` : ""}\n`);
            } catch (error) {
              throw new RelayConfigError(`database ${db.name}: ${(error as Error).message}`);
            } finally {
              await executor.close();
            }
          }
          return;
        }
        const relay = await startRelay(config, logger);
        const stop = (signal: string) => void relay.stop(signal);
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        await relay.closed;
      }),
    );
}

function registerTokens(program: Command): void {
  const token = program.command("relay-token").description("A workspace's relay tokens (one per relay)");
  withDatabaseFlags(token.command("create"))
    .description("Create a relay token (shown once; only its hash is kept)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .requiredOption("--name <name>", "the relay's name: its databases appear as connectors <name>/<database>")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: WorkspaceFlags & { name: string }) => {
        const created = await runOperation(configFrom(flags), "relay.token.create", {
          workspace: flags.workspace,
          name: flags.name,
        });
        if (flags.json) return printJson(created);
        process.stdout.write(
          `relay token ${created.id} for relay ${created.name}\nshown once, put it in relay.json (token) or CAUSELOOP_RELAY_TOKEN now:\n${created.token}\n`,
        );
      }),
    );
  withDatabaseFlags(token.command("list"))
    .description("List the workspace's relay tokens (never their secrets)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: WorkspaceFlags) => {
        const list = await runOperation(configFrom(flags), "relay.token.list", { workspace: flags.workspace });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no relay tokens\n");
        const rows = list.map((t) => [t.id, t.name, t.created_at, t.last_used_at ?? "-", t.revoked_at ?? "-"]);
        process.stdout.write(`${table(["ID", "NAME", "CREATED", "LAST USED", "REVOKED"], rows)}\n`);
      }),
    );
  for (const [verb, what] of [
    ["rotate", "A new secret for the relay token (shown once); the old one stops working at once"],
    ["revoke", "Revoke a relay token: its connectors stop at once, its relay is disconnected"],
  ] as const)
    withDatabaseFlags(token.command(`${verb} <id>`))
      .description(what)
      .requiredOption("--workspace <id>", "the workspace (ws_...)")
      .option("--json", "machine-readable output")
      .action(
        action(async (id: string, flags: WorkspaceFlags) => {
          const args = { workspace: flags.workspace, id };
          if (verb === "revoke") {
            const result = await runOperation(configFrom(flags), "relay.token.revoke", args);
            if (flags.json) return printJson(result);
            process.stdout.write(`revoked ${id}\n`);
            return;
          }
          const rotated = await runOperation(configFrom(flags), "relay.token.rotate", args);
          if (flags.json) return printJson(rotated);
          process.stdout.write(`relay token ${rotated.id} rotated; shown once:\n${rotated.token}\n`);
        }),
      );
}

function registerStatus(program: Command): void {
  withDatabaseFlags(program.command("relays"))
    .description("The workspace's relay connections (connected or not, version, databases, last heartbeat)")
    .requiredOption("--workspace <id>", "the workspace (ws_...)")
    .option("--json", "machine-readable output")
    .action(
      action(async (flags: WorkspaceFlags) => {
        const list = await runOperation(configFrom(flags), "relay.list", { workspace: flags.workspace });
        if (flags.json) return printJson(list);
        if (!list.length) return void process.stdout.write("no relay has connected\n");
        const rows = list.map((r) => [
          r.relay,
          r.status,
          r.agent_version,
          r.databases.map((d) => `${d.name}(${d.kind})`).join(" "),
          r.last_heartbeat_at,
        ]);
        process.stdout.write(`${table(["RELAY", "STATUS", "VERSION", "DATABASES", "LAST HEARTBEAT"], rows)}\n`);
      }),
    );
}

export function registerRelay(program: Command): void {
  registerAgent(program);
  registerTokens(program);
  registerStatus(program);
}
