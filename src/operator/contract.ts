// The operator plane's contract: each operation is defined once, with a TypeBox schema for its arguments and
// a result type inferred from its implementation. Transports (in-process, control socket, console session)
// validate arguments against the schema before running anything, so a wrong argument is the catalogue's
// validation_failed wherever it comes from, and faces call typed functions instead of casting results.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { Config } from "../config.ts";
import type { Engine } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import type { Signer } from "../audit/signing.ts";
import type { LocalKeyRing } from "../secrets/keyring.ts";
import type { Scheduler } from "../jobs/scheduler.ts";

export type Progress = (done: number, total: number) => void;

export interface OperationContext {
  /** Owner-level connection (PGlite: the one connection; PostgreSQL: DATABASE_OWNER_URL or DATABASE_URL per need). */
  engine: Engine;
  config: Config;
  /** The master key ring, loaded on first use (and checked against the database). */
  kek: () => Promise<LocalKeyRing>;
  /** The audit signing key, loaded on first use. */
  signer: () => Promise<Signer>;
  /** The running server's scheduler (inside `serve`), else one built for this command. */
  scheduler?: () => Scheduler;
  /** Who asked: `operator:<login>` of the calling process (a running server would otherwise record its own). */
  actor: string;
}

export interface Operation<A extends TSchema = TSchema, R = unknown> {
  /** owner: DDL, role management and cross-tenant work; runtime: read-only checks through DATABASE_URL on PostgreSQL. */
  needs: "owner" | "runtime";
  /** Embedded mode: bring the schema up to date first (commands that write tenant data). */
  migrateFirst?: boolean;
  args: A;
  run(ctx: OperationContext, args: Static<A>, progress?: Progress): Promise<R>;
}

export function defineOperation<A extends TSchema, R>(operation: Operation<A, R>): Operation<A, R> {
  return operation;
}

/** The arguments when they match the schema; otherwise validation_failed naming the first wrong one. */
export function checkArgs<A extends TSchema>(schema: A, args: unknown): Static<A> {
  if (Value.Check(schema, args)) return args;
  const first = Value.Errors(schema, args).First();
  const where = first?.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : "arguments";
  throw new AppError("validation_failed", `${where}: ${first?.message ?? "invalid"}`);
}

/** A workspace id argument (ws_...), as every per-workspace operation takes it. */
export const WorkspaceArg = Type.String({ pattern: "^ws_[0-9a-z]{26}$" });

/** The operator as a workspace's audit trail names them (an operation changing that workspace's data). */
export const operatorActor = (workspaceId: string, actor: string) => ({
  workspaceId,
  actorId: actor,
  actorType: "operator" as const,
  context: {},
});
