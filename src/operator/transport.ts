// How an operation is carried out: in this process on its own connection, inside a running `serve` through
// its control socket, or in the console's long-lived session. Every path validates the arguments against the
// operation's schema first (a wrong one is validation_failed, never a cast), and every path records who asked.
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { openPostgres } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { operatorIdentity } from "../audit/operator-log.ts";
import type { Signer } from "../audit/signing.ts";
import { keySource } from "../keys.ts";
import { loadSigner } from "../audit/signing.ts";
import { openKeyRing } from "../secrets/load.ts";
import type { LocalKeyRing } from "../secrets/keyring.ts";
import { checkArgs, type Operation, type OperationContext, type Progress } from "./contract.ts";
import { controlRequest, serveIsRunning } from "./control.ts";
import { migrateEmbedded, openEmbedded, openOwner } from "./database.ts";
import { operations, type ArgsOf, type OperationName, type ResultOf } from "./operations.ts";

/** The context a transport builds, before it knows who is asking. */
export type ConnectionContext = Omit<OperationContext, "actor">;

function operation(name: OperationName): Operation {
  return operations[name];
}

function lazyKek(config: Config, engine: Engine): () => Promise<LocalKeyRing> {
  let ring: Promise<LocalKeyRing> | undefined;
  return () => (ring ??= openKeyRing(config, engine));
}

function lazySigner(config: Config, engine: Engine): () => Promise<Signer> {
  let signer: Promise<Signer> | undefined;
  return () => (signer ??= keySource(config, engine).then(loadSigner));
}

function connectionContext(config: Config, engine: Engine): ConnectionContext {
  return { engine, config, kek: lazyKek(config, engine), signer: lazySigner(config, engine) };
}

/** Runs an operation, whose arguments were checked against its schema, with an open connection. */
function execute(
  op: Operation,
  ctx: ConnectionContext,
  actor: string,
  checked: unknown,
  progress?: Progress,
): Promise<unknown> {
  return op.run({ ...ctx, actor }, checked, progress);
}

/**
 * Runs an operation inside an already-open server (the control socket's side). The request carries its
 * arguments and, separately, who asked; arguments that do not match the schema are refused.
 */
export function runInProcess(
  name: OperationName,
  ctx: ConnectionContext,
  request: { args?: unknown; actor?: unknown },
): Promise<unknown> {
  const actor =
    typeof request.actor === "string" && request.actor.length > 0 && request.actor.length <= 200
      ? request.actor
      : "operator:unknown";
  const op = operation(name);
  return execute(op, ctx, actor, checkArgs(op.args, request.args ?? {}));
}

/** The arguments an operation is called with: optional when it takes none (or only optional ones). */
export type CallArgs<N extends OperationName> =
  Record<string, never> extends ArgsOf<N>
    ? [args?: ArgsOf<N>, progress?: Progress]
    : [args: ArgsOf<N>, progress?: Progress];

/** Runs an operation from a CLI or console process: through a running server's socket, or on its own connection. */
export async function runOperation<N extends OperationName>(
  config: Config,
  name: N,
  ...[args, progress]: CallArgs<N>
): Promise<ResultOf<N>> {
  // One place turns the untyped result of the generic dispatch back into the operation's own result type.
  return (await dispatch(config, name, args ?? {}, progress)) as ResultOf<N>;
}

async function dispatch(config: Config, name: OperationName, args: unknown, progress?: Progress): Promise<unknown> {
  const op = operation(name);
  const actor = operatorIdentity();
  // Checked before any connection is opened, so a bad argument leaves nothing behind (not even a data dir).
  const checked = checkArgs(op.args, args);
  if (config.engine === "pglite") {
    if (serveIsRunning(config.dataDir)) return controlRequest(config.dataDir, name, { args, actor });
    const db = await openEmbedded(config, "command", { migrate: op.migrateFirst ?? false });
    try {
      return await execute(op, connectionContext(config, db.engine), actor, checked, progress);
    } finally {
      await db.close();
    }
  }
  const engine =
    op.needs === "owner"
      ? await openOwner(config)
      : config.databaseUrl
        ? await openPostgres(config.databaseUrl, 2, "causeloop-operator")
        : (() => {
            throw new AppError(
              "config_invalid",
              "DATABASE_URL is not set (only DATABASE_OWNER_URL is): run 'causeloop setup' to create the runtime role and write its DATABASE_URL",
            );
          })();
  try {
    return await execute(op, connectionContext(config, engine), actor, checked, progress);
  } finally {
    await engine.close();
  }
}

export interface OperatorSession {
  run<N extends OperationName>(name: N, ...call: CallArgs<N>): Promise<ResultOf<N>>;
  /** Whether this session holds the PGlite data dir right now (for tests and the console's status). */
  holdsDataDir(): boolean;
  close(): Promise<void>;
}

/**
 * For a long-lived caller (the console). On a PGlite data dir that no `serve` holds, opening PGlite costs
 * about half a second, and a screen asks for several things at once: the session keeps one connection
 * for a burst of operations (run one after another) and releases the data dir after idleMs without one,
 * so `serve` or a CLI command can take it. With `serve` running, or on PostgreSQL, it is runOperation.
 */
export function operatorSession(config: Config, idleMs = 1500): OperatorSession {
  let held: { db: Awaited<ReturnType<typeof openEmbedded>>; ctx: ConnectionContext; migrated: boolean } | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const release = async () => {
    const current = held;
    held = undefined;
    await current?.db.close();
  };
  const runOne = async (name: OperationName, args: unknown, progress?: Progress): Promise<unknown> => {
    clearTimeout(idle);
    if (!held && (config.engine !== "pglite" || serveIsRunning(config.dataDir)))
      return dispatch(config, name, args, progress);
    const op = operation(name);
    const actor = operatorIdentity();
    const checked = checkArgs(op.args, args);
    if (!held) {
      const db = await openEmbedded(config, "command", { migrate: false });
      held = { db, ctx: connectionContext(config, db.engine), migrated: false };
    }
    try {
      if (op.migrateFirst && !held.migrated) {
        await migrateEmbedded(held.ctx.engine, actor);
        held.migrated = true;
      }
      return await execute(op, held.ctx, actor, checked, progress);
    } finally {
      idle = setTimeout(() => {
        queue = queue.then(release, release);
      }, idleMs);
    }
  };
  return {
    run<N extends OperationName>(name: N, ...[args, progress]: CallArgs<N>): Promise<ResultOf<N>> {
      const result = queue.then(() => runOne(name, args ?? {}, progress));
      queue = result.catch(() => {});
      return result as Promise<ResultOf<N>>;
    },
    holdsDataDir: () => held !== undefined,
    close: async () => {
      clearTimeout(idle);
      await queue;
      await release();
    },
  };
}
