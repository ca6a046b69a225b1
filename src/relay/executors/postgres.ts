// Runs checked SQL against a customer's PostgreSQL, read-only at every layer the database offers: the session
// defaults to read-only transactions, each query runs in BEGIN READ ONLY with local timeouts and a pinned
// search_path, and the transaction is always rolled back. The policy engine decides what may run; this file
// makes sure that even a query the engine wrongly let through cannot write.
import postgres, { type ReservedSql, type Sql } from "postgres";
import { checkSql } from "../policy/sql.ts";
import { CompiledPgPolicy, type PgPolicy } from "../policy/sql-policy.ts";
import { type Executor, type QueryLimits, type RawResult, type RelayQuery, RelayRefusal } from "../types.ts";
import { jsonSafe, TEXT_TIME_TYPES } from "./postgres-values.ts";

export interface PostgresDatabaseConfig {
  name: string;
  url: string;
  policy: PgPolicy;
  /** Start even when the role is a superuser or can write the allowed tables, with a warning. */
  allow_writable_role?: boolean;
  /** Upper bound on any query's statement_timeout; the request's own limit applies when smaller. */
  statement_timeout_ms?: number;
}

/** Rows from the database layer alone, before policy bookkeeping. */
export interface ReadOnlyRows {
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
}

export interface PostgresExecutor extends Executor {
  /**
   * The database layer without the policy engine: runs `sql` in a read-only transaction under the caps.
   * Exported so tests can prove PostgreSQL itself refuses writes; the relay always goes through run().
   */
  runReadOnly(sql: string, limits: QueryLimits): Promise<ReadOnlyRows>;
}

const BATCH_ROWS = 500;
/** How long past statement_timeout we wait for a server that stopped answering (network, frozen host). */
const CLIENT_GRACE_MS = 5_000;

/** Rejects with a timeout refusal when `work` has not settled in time; a late failure is swallowed. */
function withDeadline<T>(work: Promise<T>, ms: number, onExpire: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new RelayRefusal("timeout", `the database did not answer within ${ms} ms`));
    }, ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** postgres.js puts the row description on a result batch and on the statement; its types omit the latter. */
interface Described {
  columns?: { name: string }[] | null;
}

function columnNames(described: Described | undefined): string[] {
  return (described?.columns ?? []).map((c) => c.name);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function positiveInt(value: number, fallback: number): number {
  return Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}

interface PgError {
  code?: string;
  message: string;
  severity?: string;
}

function isPgError(error: unknown): error is PgError {
  return error instanceof Error && "severity" in error && typeof (error as PgError).code === "string";
}

/** A refusal that carries PostgreSQL's own words (never the URL or a password), or "unavailable". */
function toRefusal(error: unknown, name: string, timeoutMs: number): RelayRefusal {
  if (error instanceof RelayRefusal) return error;
  if (isPgError(error)) {
    if (error.code === "57014")
      return new RelayRefusal("timeout", `the query ran longer than ${timeoutMs} ms and was cancelled by PostgreSQL`);
    if (error.code === "55P03")
      return new RelayRefusal("timeout", `the query waited too long for a lock: ${error.message}`);
    return new RelayRefusal("database", error.message);
  }
  const code = error instanceof Error && "code" in error ? String((error as { code: unknown }).code) : "error";
  return new RelayRefusal("unavailable", `could not reach the database ${name} (${code})`);
}

export function createPostgresExecutor(db: PostgresDatabaseConfig): PostgresExecutor {
  const policy = new CompiledPgPolicy(db.policy);
  const searchPath = policy.searchPath.map(quoteIdent).join(", ");
  const sql: Sql = postgres(db.url, {
    max: 4,
    prepare: false,
    idle_timeout: 60,
    connect_timeout: 10,
    onnotice: () => {},
    // Startup parameters: every transaction on these sessions is read-only unless someone asks otherwise,
    // and nothing here asks otherwise.
    connection: {
      application_name: "causeloop-relay",
      default_transaction_read_only: true,
      search_path: searchPath,
    },
    types: {
      pgtime: { to: 25, from: TEXT_TIME_TYPES, serialize: (x: string) => x, parse: (x: string) => x },
    },
  });

  async function inReadOnlyTransaction<T>(timeoutMs: number, fn: (conn: ReservedSql) => Promise<T>): Promise<T> {
    const gaveUp = { value: false };
    const work = (async () => {
      const conn = await sql.reserve();
      // The caller stopped waiting while every connection was busy: never run the query late.
      if (gaveUp.value) {
        conn.release();
        throw new RelayRefusal("timeout", "the relay's database connections stayed busy");
      }
      return runInTransaction(conn, timeoutMs, fn);
    })();
    return withDeadline(work, timeoutMs + CLIENT_GRACE_MS, () => {
      gaveUp.value = true;
    });
  }

  async function runInTransaction<T>(
    conn: ReservedSql,
    timeoutMs: number,
    fn: (conn: ReservedSql) => Promise<T>,
  ): Promise<T> {
    try {
      // Our own fixed statements (never the user's SQL) in one simple-protocol message: one round trip.
      await conn
        .unsafe(
          `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL lock_timeout = ${timeoutMs};
           SET LOCAL idle_in_transaction_session_timeout = ${timeoutMs + 10_000}; SET LOCAL search_path = ${searchPath}`,
        )
        .simple();
      return await fn(conn);
    } finally {
      // Never COMMIT: whatever happened, the transaction ends in ROLLBACK.
      await conn.unsafe("ROLLBACK").catch(() => {});
      conn.release();
    }
  }

  function effectiveTimeout(limits: QueryLimits): number {
    const requested = positiveInt(limits.timeoutMs, 30_000);
    return db.statement_timeout_ms ? Math.min(requested, positiveInt(db.statement_timeout_ms, requested)) : requested;
  }

  async function runReadOnly(text: string, limits: QueryLimits): Promise<ReadOnlyRows> {
    const timeoutMs = effectiveTimeout(limits);
    const maxRows = Math.max(0, Math.floor(limits.maxRows));
    const maxBytes = Math.max(0, Math.floor(limits.maxBytes));
    try {
      return await inReadOnlyTransaction(timeoutMs, async (conn) => {
        const rows: unknown[][] = [];
        let columns: string[] = [];
        let bytes = 2;
        let truncated = false;
        // A portal read in batches (extended protocol: one statement only), so a huge result is never
        // materialised: we stop after maxRows + 1 rows or maxBytes of JSON.
        // Rows as arrays: two result columns may share a name (`SELECT 1 AS a, 2 AS a`).
        const query = conn.unsafe(text, [], { prepare: false }).values();
        outer: for await (const batch of query.cursor(Math.min(BATCH_ROWS, maxRows + 1))) {
          if (columns.length === 0) columns = columnNames(batch as unknown as Described);
          for (const row of batch) {
            if (rows.length >= maxRows) {
              truncated = true;
              break outer;
            }
            const values = (row as unknown as unknown[]).map(jsonSafe);
            const size = Buffer.byteLength(JSON.stringify(values)) + 1;
            if (bytes + size > maxBytes) {
              truncated = true;
              break outer;
            }
            bytes += size;
            rows.push(values);
          }
        }
        // No rows: the names still come from the statement's row description.
        if (columns.length === 0) columns = columnNames((query as { statement?: Described }).statement);
        return { columns, rows, truncated };
      });
    } catch (error) {
      throw toRefusal(error, db.name, timeoutMs);
    }
  }

  return {
    kind: "postgres",
    runReadOnly,

    async run(query: RelayQuery, limits: QueryLimits): Promise<RawResult> {
      if (!("sql" in query) || typeof query.sql !== "string")
        throw new RelayRefusal("invalid", "a PostgreSQL query needs a sql string");
      const verdict = await checkSql(query.sql, db.policy);
      if (!verdict.ok) throw new RelayRefusal(verdict.code, verdict.reason);
      const result = await runReadOnly(query.sql, limits);
      return {
        ...result,
        tables: verdict.tables,
        normalized: verdict.normalized,
        fingerprint: verdict.fingerprint,
        forcedMask: verdict.forcedMask,
      };
    },

    async check(): Promise<string[]> {
      try {
        return await startupCheck(sql, db, policy);
      } catch (error) {
        if (error instanceof StartupRefusal) throw new Error(error.message);
        throw new Error(`relay database ${db.name}: ${toRefusal(error, db.name, 0).reason}`);
      }
    },

    async close(): Promise<void> {
      await sql.end({ timeout: 5 });
    },
  };
}

class StartupRefusal extends Error {}

interface RoleRow {
  role: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  read_only: string;
}

/** The role must not be able to write what the relay reads; returns warnings, throws StartupRefusal. */
async function startupCheck(sql: Sql, db: PostgresDatabaseConfig, policy: CompiledPgPolicy): Promise<string[]> {
  const [role] = await sql<RoleRow[]>`
    select current_user as role, r.rolsuper, r.rolbypassrls, current_setting('default_transaction_read_only') as read_only
    from pg_roles r where r.rolname = current_user`;
  if (!role) throw new StartupRefusal(`relay database ${db.name}: cannot read the role of the connection`);
  if (role.read_only !== "on")
    throw new StartupRefusal(
      `relay database ${db.name}: the session did not keep default_transaction_read_only = on (a pooler in transaction mode?)`,
    );
  const problems: string[] = [];
  const warnings: string[] = [];
  if (role.rolsuper) problems.push(`the role ${role.role} is a superuser`);
  if (role.rolbypassrls) warnings.push(`relay database ${db.name}: the role ${role.role} bypasses row-level security`);
  const schemas = [...new Set(policy.candidateSchemas())];
  const rows = await sql<{ schema: string; name: string; writable: boolean }[]>`
    select n.nspname as schema, c.relname as name,
           has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') as writable
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname = any(${schemas})`;
  const writable = rows
    .filter((r) => r.writable && policy.tableRefusal({ schema: r.schema, name: r.name }) === null)
    .map((r) => `${r.schema}.${r.name}`);
  if (writable.length > 0) {
    const shown = writable.slice(0, 5).join(", ") + (writable.length > 5 ? ` and ${writable.length - 5} more` : "");
    problems.push(`the role ${role.role} can write allowed tables (${shown})`);
  }
  if (problems.length === 0) return warnings;
  const message = `relay database ${db.name}: ${problems.join("; ")}; give the relay a read-only role`;
  if (!db.allow_writable_role) throw new StartupRefusal(message);
  return [...warnings, `${message} (started anyway: allow_writable_role is set)`];
}
