// The tenant door: the only way to tenant data. One transaction, one statement setting app.current_workspace
// and the role (causeloop_app) transaction-locally, then the caller's work. The role switch happens on every
// engine and every connection: on PGlite's single connection, on PostgreSQL's runtime connection (a no-op, it
// is that role) and on the owner connection operator commands use, so Row-Level Security is the second line
// of defence for every face, never skipped because the caller happens to own the tables.
// Never a session-level SET: the setting dies with the transaction, so a pooled connection carries nothing over.
import { AppError } from "../errors.ts";
import type { Engine, Tx } from "./engine.ts";

export const APP_ROLE = "causeloop_app";
const WORKSPACE_ID = /^ws_[0-9a-z]{26}$/;

/**
 * How a transaction may enter its workspace besides the plain set_config: with a personal access token's hash
 * (enter_with_pat, migration 0042) or a session's user and id (enter_with_session, 0044), one statement sets
 * the workspace and role and reads the credential under RLS; the door fills `rows` with what it read. A door
 * that does not know the entry ignores it (the caller then reads the credential itself): correct either way,
 * one statement shorter with it. The rows only pick; the caller still proves the credential (a token's hash,
 * a JWT's signature) before it trusts them.
 */
export type DoorEntry = (
  | { pat: { hash: string; workspaceId: string }; session?: undefined }
  | { session: { userId: string; sessionId: string }; pat?: undefined }
) & { rows?: Record<string, unknown>[] };

/** The subset of the engine a tenant transaction needs; routes receive only the Tx handed to fn. */
export type TenantDoor = <T>(workspaceId: string, fn: (tx: Tx) => Promise<T>, entry?: DoorEntry) => Promise<T>;

export function isWorkspaceId(value: string): boolean {
  return WORKSPACE_ID.test(value);
}

export async function withTenant<T>(
  engine: Engine,
  workspaceId: string,
  fn: (tx: Tx) => Promise<T>,
  entry?: DoorEntry,
): Promise<T> {
  if (!isWorkspaceId(workspaceId)) throw new AppError("not_found", "workspace not found");
  return engine.transaction(async (tx) => {
    if (entry?.pat)
      entry.rows = await tx.query<Record<string, unknown>>("select * from enter_with_pat($1, $2)", [
        workspaceId,
        entry.pat.hash,
      ]);
    else if (entry?.session)
      entry.rows = await tx.query<Record<string, unknown>>("select * from enter_with_session($1, $2, $3)", [
        workspaceId,
        entry.session.userId,
        entry.session.sessionId,
      ]);
    else
      await tx.query(`select set_config('app.current_workspace', $1, true), set_config('role', '${APP_ROLE}', true)`, [
        workspaceId,
      ]);
    return fn(tx);
  });
}

export function tenantDoor(engine: Engine): TenantDoor {
  return (workspaceId, fn, entry) => withTenant(engine, workspaceId, fn, entry);
}

/**
 * A transaction as the runtime role with no workspace set: what the app sees outside the door.
 * Used by health checks that must not touch tenant data, and by tests proving RLS hides everything.
 */
export async function withoutTenant<T>(engine: Engine, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return engine.transaction(async (tx) => {
    if (engine.switchRoleInTransactions) await tx.exec(`set local role ${APP_ROLE}`);
    return fn(tx);
  });
}

/** A tenant transaction held open across the steps of one request (see holdTenant). */
export interface HeldTenant {
  workspaceId: string;
  tx: Tx;
  /** What the door read on entering, when it was entered with a credential (see DoorEntry). */
  entry?: DoorEntry;
  /** Commits (true) or rolls back (false) and releases the connection; later calls do nothing. */
  finish(commit: boolean): Promise<void>;
}

const ROLLBACK = Symbol("rollback");

/**
 * Enters the door and keeps the transaction open until `finish`: a read request authenticates and reads in one
 * transaction (one BEGIN, one set_config, one COMMIT) instead of one for the credential and one for the data.
 * Whoever holds it must finish it on every path, or the connection stays taken.
 */
export function holdTenant(door: TenantDoor, workspaceId: string, entry?: DoorEntry): Promise<HeldTenant> {
  return new Promise<HeldTenant>((opened, failed) => {
    const outcome = Promise.withResolvers<boolean>();
    let settled = false;
    const done = door(
      workspaceId,
      async (tx) => {
        settled = true;
        opened({
          workspaceId,
          tx,
          entry: entry?.rows ? entry : undefined,
          finish: async (commit) => {
            outcome.resolve(commit);
            await done.catch((error) => {
              if (error !== ROLLBACK) throw error;
            });
          },
        });
        if (!(await outcome.promise)) throw ROLLBACK;
      },
      entry,
    );
    done.catch((error) => {
      if (!settled) failed(error);
    });
  });
}

/** A door that runs work for the held workspace in the held transaction, and anything else through `door`. */
export function heldDoor(held: HeldTenant, door: TenantDoor): TenantDoor {
  return (workspaceId, fn) => (workspaceId === held.workspaceId ? fn(held.tx) : door(workspaceId, fn));
}
