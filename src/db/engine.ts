// One module, two engines: embedded PGlite (no DATABASE_URL) or PostgreSQL through postgres.js.
// Callers see the same Engine either way; route code never learns which one is underneath.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { PostgresJsSession } from "drizzle-orm/postgres-js/session";
import { PgDatabase, PgDialect, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { createTableRelationsHelpers, extractTablesRelationalConfig } from "drizzle-orm/relations";
import { pgliteSharedBuffers, type DatabaseUrlInfo, type EngineKind } from "../config.ts";
import { AppError } from "../errors.ts";
import * as schema from "./schema/index.ts";
import { loadInitdbModule, loadPgliteAssets } from "./pglite-assets.ts";
import { KnownTypesPGlite } from "./pglite-array-types.ts";
import { PgliteConnection, type PgliteTransaction } from "./pglite-prepared.ts";
import { embeddedTemplate, unpackTemplate } from "./pglite-template.ts";

export type Schema = typeof schema;
export type Drizzle = PgDatabase<PgQueryResultHKT, Schema>;

export type Row = Record<string, unknown>;

/** Raw SQL on one connection or transaction. */
export interface Queryable {
  query<T = Row>(text: string, params?: unknown[]): Promise<T[]>;
}

/** A transaction: raw SQL plus typed drizzle queries on the same connection. */
export interface Tx extends Queryable {
  readonly db: Drizzle;
  /** Several statements at once, inside this transaction; no parameters. */
  exec(text: string): Promise<void>;
  /**
   * Runs `hook` once this transaction has committed (never after a rollback), before `transaction()` returns;
   * one hook per key. The engine's own transactions offer it; a session's do not (callers must not rely on it
   * for correctness, only to do promptly what a sweep would do later: see src/audit/sequencer.ts).
   */
  afterCommit?(key: string, hook: (engine: Engine) => Promise<void>): void;
}

export interface EngineInfo {
  kind: EngineKind;
  host?: string;
  database?: string;
  user?: string;
  dataDir?: string;
}

/** Connections as the engine's own transactions see them (plain queries and probes are not counted). */
export interface PoolStats {
  /** Connections the pool may open (PGlite: its one connection). */
  size: number;
  /** Transactions and reserved sessions holding a connection now. */
  inUse: number;
  /** Transactions waiting for a connection (PGlite: queued behind the one that runs). */
  waiting: number;
}

export interface Engine extends Queryable {
  readonly kind: EngineKind;
  readonly info: EngineInfo;
  /** The role tenant transactions run as in PGlite (SET LOCAL ROLE); PostgreSQL connects as it instead. */
  readonly switchRoleInTransactions: boolean;
  /** Runs several statements at once (migrations); no parameters. */
  exec(text: string): Promise<void>;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Runs fn for a health check within timeoutMs, on a connection of its own (PostgreSQL) so a busy pool never
   * delays it; past the deadline it fails with database_unreachable and that connection is replaced.
   */
  probe<T>(fn: (db: Queryable) => Promise<T>, timeoutMs: number): Promise<T>;
  /** Runs fn on one dedicated connection, for session-level advisory locks and no-transaction migrations. */
  session<T>(
    fn: (
      conn: Queryable & { exec(text: string): Promise<void>; transaction<R>(fn: (tx: Tx) => Promise<R>): Promise<R> },
    ) => Promise<T>,
  ): Promise<T>;
  /** Connections in use and transactions waiting for one, counted as they come and go (for metrics). */
  poolStats(): PoolStats;
  /**
   * PGlite only: an uncompressed tarball of the data directory, taken while no statement runs (a
   * crash-consistent copy: loading it replays the WAL; transactions in flight are rolled back in it).
   * Uncompressed because statements wait while it is made: the caller compresses it afterwards.
   */
  dumpDataDir?(): Promise<Blob>;
  close(): Promise<void>;
}

/** Wraps an engine's transaction so that the Tx it hands out offers afterCommit (hooks run after COMMIT). */
function withAfterCommit(
  engine: () => Engine,
  run: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
): <T>(fn: (tx: Tx) => Promise<T>) => Promise<T> {
  return async <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
    let hooks: Map<string, (engine: Engine) => Promise<void>> | undefined;
    const result = await run((tx) => {
      tx.afterCommit = (key, hook) => {
        hooks ??= new Map();
        if (!hooks.has(key)) hooks.set(key, hook);
      };
      return fn(tx);
    });
    if (hooks) for (const hook of hooks.values()) await hook(engine());
    return result;
  };
}

/** Counts transactions waiting for a connection and holding one: integers only, no clock (the hot path). */
function poolCounter(size: number) {
  const stats: PoolStats = { size, inUse: 0, waiting: 0 };
  return {
    snapshot: (): PoolStats => ({ ...stats }),
    /** Called before asking for a connection: `run` wraps the work once it holds one, `done` when it settled. */
    enter() {
      stats.waiting++;
      let waiting = true;
      const stopWaiting = () => {
        if (waiting) stats.waiting--;
        waiting = false;
      };
      return {
        run: async <T>(work: () => Promise<T>): Promise<T> => {
          stopWaiting();
          stats.inUse++;
          try {
            return await work();
          } finally {
            stats.inUse--;
          }
        },
        done: stopWaiting,
      };
    },
    held: (delta: 1 | -1) => {
      stats.inUse += delta;
    },
  };
}

// ---------------------------------------------------------------- PGlite

export interface PgliteOptions {
  /** The template a new database starts from (default: the one embedded in the binary; none: initdb). */
  template?: Blob | null;
  /** A tarball made by dumpDataDir to start from (a restore): the data dir must not hold a database yet. */
  loadDataDir?: Blob;
  /** The buffer pool, as PostgreSQL's shared_buffers (default: CAUSELOOP_PGLITE_SHARED_BUFFERS, else 16MB). */
  sharedBuffers?: string;
}

export async function openPglite(dataDir: string, options: PgliteOptions = {}): Promise<Engine> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pgdata = `${dataDir}/pgdata`;
  // A database directory that lost files is refused: PGlite would initialize a new, empty database over it.
  if (existsSync(pgdata) && readdirSync(pgdata).length > 0 && !existsSync(`${pgdata}/PG_VERSION`))
    throw new AppError(
      "config_invalid",
      `the embedded database in ${pgdata} is incomplete (PG_VERSION is missing): restore the data dir from a backup; Causeloop will not create a new database over it`,
    );
  const assets = loadPgliteAssets();
  // A new database starts from the template embedded in the binary when there is one (initdb otherwise).
  const template = options.template === undefined ? embeddedTemplate() : (options.template ?? undefined);
  const fresh = !existsSync(pgdata) || readdirSync(pgdata).length === 0;
  if (template && fresh && !options.loadDataDir) await unpackTemplate(template, pgdata);
  if (options.loadDataDir && !fresh)
    throw new AppError(
      "config_invalid",
      `${pgdata} already holds a database: a backup is only loaded into an empty one`,
    );
  // initdb runs only where there is no database yet (no template, or a backup being loaded).
  const initdbWasmModule = existsSync(`${pgdata}/PG_VERSION`) ? undefined : await loadInitdbModule();
  let pg: PGlite;
  try {
    // Not PGlite.create: it always builds a plain PGlite. This one knows the built-in array types already.
    pg = new KnownTypesPGlite({
      dataDir: pgdata,
      loadDataDir: options.loadDataDir,
      // -c on the command line, not postgresqlconf: PGlite would overwrite the data dir's postgresql.conf with it.
      startParams: [
        ...PGlite.defaultStartParams,
        "-c",
        `shared_buffers=${options.sharedBuffers ?? pgliteSharedBuffers()}`,
      ],
      ...(await assets),
      initdbWasmModule,
    });
    await pg.waitReady;
  } catch (error) {
    throw new AppError(
      "config_invalid",
      `the embedded database in ${pgdata} cannot be opened (${(error as Error).message || "aborted"}): it may be damaged; restore the data dir from a backup`,
    );
  }
  const connection = new PgliteConnection(pg);
  const wrapTx = (t: PgliteTransaction): Tx => ({
    // Built on first use: most transactions never ask for it.
    get db() {
      return drizzlePglite(t as unknown as PGlite, { schema }) as unknown as Drizzle;
    },
    query: async <T>(text: string, params?: unknown[]) => (await t.query<T>(text, params)).rows,
    exec: (text: string) => t.exec(text),
  });
  const pool = poolCounter(1);
  let self: Engine | undefined;
  const transaction = withAfterCommit(
    () => self as Engine,
    <T>(fn: (tx: Tx) => Promise<T>) => {
      const slot = pool.enter();
      return connection.transaction((t) => slot.run(() => fn(wrapTx(t)))).finally(slot.done);
    },
  );
  const query = async <T>(text: string, params?: unknown[]) => (await connection.query<T>(text, params)).rows;
  const exec = async (text: string) => {
    await pg.exec(text);
  };
  self = {
    kind: "pglite",
    info: { kind: "pglite", dataDir },
    switchRoleInTransactions: true,
    query,
    exec,
    transaction,
    // PGlite is one connection already; its own queue serializes callers.
    session: (fn) => fn({ query, exec, transaction }),
    probe: (fn, timeoutMs) => withDeadline(fn({ query }), timeoutMs, "the embedded database did not answer"),
    poolStats: pool.snapshot,
    dumpDataDir: () => pg.dumpDataDir("none"),
    close: () => pg.close(),
  };
  return self;
}

// ---------------------------------------------------------------- PostgreSQL

const relational = (() => {
  const config = extractTablesRelationalConfig(schema, createTableRelationsHelpers);
  return { fullSchema: schema, schema: config.tables, tableNamesMap: config.tableNamesMap };
})();
const dialect = new PgDialect();

/**
 * drizzle over one postgres.js transaction or reserved connection. drizzle's own constructor rewrites the
 * client's type parsers (dates as strings), which would make raw results differ from PGlite's; building the
 * session directly keeps Date objects on both engines.
 */
function drizzleOn(client: postgres.Sql | postgres.TransactionSql | postgres.ReservedSql): Drizzle {
  const session = new PostgresJsSession(client as unknown as postgres.Sql, dialect, relational, {});
  return new PgDatabase(dialect, session, relational) as unknown as Drizzle;
}

/** JSON parameters: drizzle hands strings, raw callers may hand objects; both end up as JSON text. */
const jsonSerializer = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function sslOption(info: DatabaseUrlInfo): postgres.Options<Record<string, never>>["ssl"] {
  switch (info.sslmode) {
    case undefined:
    case "disable":
      return false;
    case "allow":
    case "prefer":
      return "prefer";
    case "require":
      return "require";
    case "verify-ca":
    case "verify-full":
      return "verify-full";
    default:
      return false;
  }
}

export interface PostgresTimeouts {
  /** Longest wait for a new connection to be established (postgres.js connect_timeout). */
  connectTimeoutMs: number;
  /** Longest wait for a pooled connection before a transaction gives up with database_unreachable. */
  acquireTimeoutMs: number;
  /**
   * Named prepared statements (parsed and planned once per connection). Off behind a pooler in transaction
   * mode (PgBouncer), which cannot keep a statement prepared on one server connection for the next transaction.
   */
  prepare?: boolean;
}

export const DEFAULT_TIMEOUTS: PostgresTimeouts = { connectTimeoutMs: 5_000, acquireTimeoutMs: 5_000 };

export async function openPostgres(
  info: DatabaseUrlInfo,
  poolSize: number,
  appName = "causeloop",
  timeouts: PostgresTimeouts = DEFAULT_TIMEOUTS,
): Promise<Engine> {
  const url = new URL(info.url);
  url.searchParams.delete("sslmode");
  const client = (max: number, connectTimeoutMs: number, name: string) =>
    postgres(url.toString(), {
      max,
      ssl: sslOption(info),
      onnotice: () => {},
      connect_timeout: connectTimeoutMs / 1000,
      idle_timeout: 60,
      connection: { application_name: name },
      // Keep int8 and numeric as strings (no precision loss); dates as Date, like PGlite.
    });
  const sql = client(poolSize, timeouts.connectTimeoutMs, appName);
  sql.options.serializers["114"] = jsonSerializer;
  sql.options.serializers["3802"] = jsonSerializer;
  type Sqlish = postgres.Sql | postgres.TransactionSql | postgres.ReservedSql;
  const prepare = timeouts.prepare ?? true;
  const queryOn =
    (s: Sqlish) =>
    async <T>(text: string, params?: unknown[]) =>
      (await s.unsafe(text, (params ?? []) as postgres.ParameterOrJSON<never>[], { prepare })) as unknown as T[];
  const wrapTx = (t: postgres.TransactionSql | postgres.ReservedSql): Tx => ({
    get db() {
      return drizzleOn(t);
    },
    query: queryOn(t),
    exec: async (text: string) => {
      await t.unsafe(text).simple();
    },
  });
  const pool = poolCounter(poolSize);
  let self: Engine | undefined;
  const transaction = withAfterCommit(
    () => self as Engine,
    <T>(fn: (tx: Tx) => Promise<T>) => {
      const slot = pool.enter();
      return pipelinedTransaction(sql, timeouts.acquireTimeoutMs, prepare, (t) =>
        slot.run(() => fn(wrapTx(t))),
      ).finally(slot.done);
    },
  );
  // Health checks get a connection of their own, replaced whenever one fails to answer in time.
  let probeSql: postgres.Sql | undefined;
  const probe = async <T>(fn: (db: Queryable) => Promise<T>, timeoutMs: number): Promise<T> => {
    probeSql ??= client(1, Math.min(timeouts.connectTimeoutMs, timeoutMs), `${appName}-probe`);
    const current = probeSql;
    try {
      return await withDeadline(fn({ query: queryOn(current) }), timeoutMs, "PostgreSQL did not answer");
    } catch (error) {
      if (probeSql === current) probeSql = undefined;
      void current.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
  };
  try {
    await sql`select 1`;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw connectionError(info, error);
  }
  self = {
    kind: "postgres",
    info: { kind: "postgres", host: info.host, database: info.database, user: info.user },
    switchRoleInTransactions: false,
    query: queryOn(sql),
    exec: async (text) => {
      await sql.unsafe(text).simple();
    },
    transaction,
    probe,
    poolStats: pool.snapshot,
    session: async (fn) => {
      const reserved = await sql.reserve();
      pool.held(1);
      try {
        return await fn({
          query: queryOn(reserved),
          exec: async (text) => {
            await reserved.unsafe(text).simple();
          },
          transaction: async (inner) => {
            await reserved.unsafe("begin");
            try {
              const result = await inner({
                db: drizzleOn(reserved),
                query: queryOn(reserved),
                exec: async (text) => {
                  await reserved.unsafe(text).simple();
                },
              });
              await reserved.unsafe("commit");
              return result;
            } catch (error) {
              await reserved.unsafe("rollback").catch(() => {});
              throw error;
            }
          },
        });
      } finally {
        pool.held(-1);
        reserved.release();
      }
    },
    close: async () => {
      await probeSql?.end({ timeout: 1 }).catch(() => {});
      await sql.end({ timeout: 5 });
    },
  };
  return self;
}

/**
 * A transaction on a reserved connection whose BEGIN travels with its first statement: `sql.begin` awaits its
 * BEGIN before the work may send anything, a round trip and a socket write of its own on every request; here
 * BEGIN is sent and the work starts at once, so postgres.js writes both in one go (a failed BEGIN fails that
 * statement too). COMMIT on success, ROLLBACK on any failure, then the connection goes back to the pool (a
 * connection the server closed meanwhile is not: scripts/patches/postgres@3.4.9.patch).
 *
 * Bounded like the rest: until BEGIN has come back (a connection acquired and answering) the caller waits at
 * most acquireTimeoutMs, then gets database_unreachable (503). Work abandoned that way never commits: a
 * connection that turns up late is released unused; work already started is rolled back whatever its outcome.
 */
function pipelinedTransaction<T>(
  sql: postgres.Sql,
  acquireTimeoutMs: number,
  prepare: boolean,
  fn: (t: postgres.ReservedSql) => Promise<T>,
): Promise<T> {
  let abandoned = false;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      abandoned = true;
      reject(
        new AppError("database_unreachable", `no database connection within ${acquireTimeoutMs} ms; retry shortly`),
      );
    }, acquireTimeoutMs);
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      if (!abandoned) outcome();
    };
    sql.reserve().then(
      async (reserved) => {
        if (abandoned) return reserved.release();
        const begun = reserved.unsafe("begin", [], { prepare }).then(() => clearTimeout(timer));
        begun.catch(() => {}); // its failure is the first statement's too, reported from there
        try {
          const result = await fn(reserved);
          await begun;
          if (abandoned) throw new AbandonedTransaction();
          await reserved.unsafe("commit", [], { prepare });
          settle(() => resolve(result));
        } catch (error) {
          await reserved.unsafe("rollback", [], { prepare }).catch(() => {});
          settle(() => reject(error));
        } finally {
          reserved.release();
        }
      },
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

class AbandonedTransaction extends Error {}

/** fn's result, or database_unreachable once timeoutMs has passed (fn keeps running; its result is dropped). */
function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError("database_unreachable", `${what} within ${timeoutMs} ms`)), timeoutMs);
  });
  work.catch(() => {}); // a late failure after the deadline must not surface as an unhandled rejection
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** A connection failure as one clear line: host and database, never the password. */
function connectionError(info: DatabaseUrlInfo, error: unknown): AppError {
  const code = (error as { code?: string }).code;
  const reason =
    code === "ECONNREFUSED"
      ? "connection refused"
      : code === "ENOTFOUND"
        ? "host not found"
        : code === "28P01"
          ? "password authentication failed"
          : code === "3D000"
            ? "database does not exist"
            : code === "CONNECT_TIMEOUT"
              ? "connection timed out"
              : (error as Error).message.replace(/postgres(ql)?:\/\/\S+/g, "<url>");
  return new AppError(
    "database_unreachable",
    `cannot connect to PostgreSQL at ${info.host}:${info.port}/${info.database} as ${info.user || "(default user)"}: ${reason}`,
  );
}
