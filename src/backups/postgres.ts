// Backups on PostgreSQL: `pg_dump --format=custom` of the owner connection's database, taken in a snapshot
// exported by the transaction that counts the rows and reads the audit chain heads (so the manifest states
// exactly what the dump holds), streamed through the backup cipher; and `pg_restore` into an empty database
// (a scratch one for verify, the operator's for restore). The client tools must be of the server's major
// version or newer; the password reaches them through PGPASSWORD, never their arguments.
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { Config, DatabaseUrlInfo } from "../config.ts";
import { openPostgres, type Engine, type Queryable } from "../db/engine.ts";
import { APP_ROLE } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import type { EncryptResult } from "./cipher.ts";
import { libpq, reasonFrom, requireClient, run, serverVersion, type Tool } from "./pg-tools.ts";
import type { SnapshotFacts } from "./create.ts";
import type { BackupManifest } from "./manifest.ts";
import { processAlive } from "./store.ts";

/** Where the PostgreSQL backups happen: the owner connection, and where pg_dump and pg_restore are. */
export interface PostgresTarget {
  owner: DatabaseUrlInfo;
  /** CAUSELOOP_PG_BIN_DIR (else PATH, else /usr/lib/postgresql/<newest>/bin). */
  binDir: string | undefined;
}

/** PostgreSQL: where backups are taken and checked (the owner connection); undefined on the embedded engine. */
export function postgresTarget(
  config: Pick<Config, "engine" | "databaseOwnerUrl" | "pgBinDir">,
): PostgresTarget | undefined {
  if (config.engine !== "postgres") return undefined;
  if (!config.databaseOwnerUrl)
    throw new AppError(
      "config_invalid",
      "backups on PostgreSQL use the owner connection: set DATABASE_OWNER_URL (the runtime role cannot read every workspace)",
    );
  return { owner: config.databaseOwnerUrl, binDir: config.pgBinDir };
}

/** What a PostgreSQL manifest says about where its dump came from. */
export interface PostgresFacts {
  server_version: string;
  pg_dump_version: string;
  database: string;
  encoding: string;
  /** The server-wide objects the dump's grants name, re-created (without a password) by restore when missing. */
  globals: { roles: string[] };
}

const SCRATCH_PREFIX = "causeloop_verify_";

/** The role's right a step needs, or one clear line naming the grant. */
async function requireRight(db: Queryable, right: "bypassrls" | "createdb", why: string): Promise<void> {
  const [role] = await db.query<{ name: string; ok: boolean }>(
    `select rolname::text as name, rolsuper or rol${right} as ok from pg_roles where rolname = current_user`,
  );
  if (role?.ok) return;
  const name = role?.name ?? "current_user";
  throw new AppError(
    "config_invalid",
    `${why}: the owner role ${name} has neither SUPERUSER nor ${right.toUpperCase()} (ALTER ROLE ${name} ${right.toUpperCase()}, or use a role that has it)`,
  );
}

const bypassReason = (tool: Tool) =>
  `${tool} must ${tool === "pg_dump" ? "read" : "write"} every workspace's rows, and the tenant tables force row-level security`;

/**
 * Dumps the owner connection's database through `seal` (the backup cipher), in a snapshot exported by the
 * transaction that reads the manifest's facts: row counts and chain heads are exactly those of the dump,
 * and `serve` keeps serving meanwhile.
 */
export async function dumpDatabase(
  engine: Engine,
  target: PostgresTarget,
  seal: (source: Readable) => Promise<EncryptResult>,
  readFacts: (db: Queryable) => Promise<SnapshotFacts>,
): Promise<{ facts: SnapshotFacts; sealed: EncryptResult; postgres: PostgresFacts }> {
  const tool = await requireClient("pg_dump", target.binDir, engine);
  await requireRight(engine, "bypassrls", bypassReason("pg_dump"));
  const server = await serverVersion(engine);
  const [db] = await engine.query<{ database: string; encoding: string }>(
    "select datname::text as database, pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()",
  );
  return engine.session(async (conn) => {
    await conn.exec("begin isolation level repeatable read read only");
    try {
      const [snapshot] = await conn.query<{ id: string }>("select pg_export_snapshot() as id");
      const facts = await readFacts(conn);
      const { dbname, env } = libpq(target.owner);
      const proc = Bun.spawn(
        [tool.path, "--format=custom", "--no-password", `--snapshot=${snapshot?.id}`, `--dbname=${dbname}`],
        { env, stdout: "pipe", stderr: "pipe" },
      );
      const stderr = new Response(proc.stderr).text();
      let sealed: EncryptResult;
      try {
        sealed = await seal(Readable.fromWeb(proc.stdout as unknown as NodeReadableStream<Uint8Array>));
      } catch (error) {
        proc.kill();
        await proc.exited;
        throw error;
      }
      const code = await proc.exited;
      if (code !== 0) throw new AppError("internal", `pg_dump failed (exit ${code}): ${reasonFrom(await stderr)}`);
      return {
        facts,
        sealed,
        postgres: {
          server_version: server.version,
          pg_dump_version: tool.version,
          database: db?.database ?? target.owner.database,
          encoding: db?.encoding ?? "UTF8",
          globals: { roles: [APP_ROLE] },
        },
      };
    } finally {
      await conn.exec("commit").catch(() => {});
    }
  });
}

/** Whether a database holds no relation of its own (tables, views, sequences) outside the system schemas. */
export async function databaseIsEmpty(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`,
  );
  return (row?.n ?? 0) === 0;
}

/** Roles the dump's grants name that the server lacks, created NOLOGIN (a backup holds no password). */
async function ensureRoles(db: Queryable, roles: string[]): Promise<string[]> {
  const created: string[] = [];
  for (const role of roles) {
    const [found] = await db.query("select 1 from pg_roles where rolname = $1", [role]);
    if (found) continue;
    try {
      await db.query(
        `create role "${role.replaceAll('"', '""')}" nologin nosuperuser nobypassrls nocreatedb nocreaterole noinherit`,
      );
    } catch (error) {
      throw new AppError(
        "config_invalid",
        `role ${role} does not exist on the target server and could not be created (${(error as Error).message}): run 'causeloop roles setup' there first`,
      );
    }
    created.push(role);
  }
  return created;
}

/** Loads a decrypted dump into a database and opens it (verify's scratch copy, restore's target). */
export interface SnapshotLoader {
  engine: "postgres";
  /** How doctor names the database it checks. */
  label: string;
  load(dumpFile: string, manifest: BackupManifest): Promise<Engine>;
  /** Roles the load created on the server (restore reports them). */
  createdRoles: string[];
}

/**
 * pg_restore into `into` (empty, or with `clean` replaced), in one transaction: a failure leaves it as it was.
 * Objects are owned by the restoring role (--no-owner); the default privileges are left to afterRestore,
 * which grants them for that role, so a backup restores onto a server whose owner role has another name.
 */
export function restoreLoader(
  into: DatabaseUrlInfo,
  binDir: string | undefined,
  options: { clean: boolean; label: string },
): SnapshotLoader {
  const loader: SnapshotLoader = {
    engine: "postgres",
    label: options.label,
    createdRoles: [],
    load: async (dumpFile, manifest) => {
      const engine = await openPostgres(into, 2, "causeloop-restore");
      try {
        const dumpMajor = Number(/^\d+/.exec(manifest.postgres?.pg_dump_version ?? "0")?.[0] ?? 0);
        const tool = await requireClient("pg_restore", binDir, engine, dumpMajor);
        await requireRight(engine, "bypassrls", bypassReason("pg_restore"));
        loader.createdRoles = await ensureRoles(engine, manifest.postgres?.globals.roles ?? [APP_ROLE]);
        const { dbname, env } = libpq(into);
        const contents = await run(tool.path, ["--list", dumpFile], env);
        const list = `${dumpFile}.list`;
        writeFileSync(list, contents.replace(/^.* DEFAULT ACL .*$/gm, ""), { mode: 0o600 });
        // The dump's grants are what each table had; default privileges present now would add to them (a
        // table the runtime role must not touch would become writable): off while loading, back afterwards.
        if (options.clean) await engine.exec(defaultPrivileges("revoke"));
        try {
          await run(
            tool.path,
            [
              "--no-owner",
              "--single-transaction",
              "--exit-on-error",
              "--no-password",
              `--use-list=${list}`,
              ...(options.clean ? ["--clean", "--if-exists"] : []),
              `--dbname=${dbname}`,
              dumpFile,
            ],
            env,
          );
        } catch (error) {
          if (options.clean) await engine.exec(defaultPrivileges("grant")).catch(() => {});
          throw error;
        }
        return engine;
      } catch (error) {
        await engine.close().catch(() => {});
        throw error;
      }
    },
  };
  return loader;
}

/** The runtime role's default privileges in schema public (as `roles setup` grants them): off, or back on. */
const defaultPrivileges = (verb: "grant" | "revoke") => {
  const to = verb === "grant" ? "to" : "from";
  return `alter default privileges in schema public ${verb} select, insert, update, delete on tables ${to} ${APP_ROLE};
    alter default privileges in schema public ${verb} usage, select on sequences ${to} ${APP_ROLE};`;
};

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function withOwner<T>(target: PostgresTarget, fn: (db: Engine) => Promise<T>): Promise<T> {
  return openPostgres(target.owner, 1, "causeloop-backup-verify").then(async (db) => {
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  });
}

/** Scratch databases of verify runs on this host whose process is gone (killed): dropped. */
async function dropAbandonedScratch(db: Queryable): Promise<void> {
  const rows = await db.query<{ name: string; note: string | null }>(
    "select datname::text as name, shobj_description(oid, 'pg_database') as note from pg_database where starts_with(datname, $1)",
    [SCRATCH_PREFIX],
  );
  for (const row of rows) {
    const owner = /host=(\S+) pid=(\d+)/.exec(row.note ?? "");
    if (owner?.[1] === hostname() && !processAlive(Number(owner[2])))
      await db.query(`drop database if exists ${quoteIdent(row.name)} with (force)`);
  }
}

export interface ScratchDatabase {
  name: string;
  loader: SnapshotLoader;
  drop(): Promise<void>;
}

/**
 * A temporary database on the owner connection's server for `backup verify` to restore into, named
 * causeloop_verify_<pid>_<random> and commented with this host and process (a killed run's is dropped by the
 * next). Needs CREATEDB; the caller drops it (drop() terminates its connections first).
 */
export async function createScratchDatabase(target: PostgresTarget): Promise<ScratchDatabase> {
  const name = `${SCRATCH_PREFIX}${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await withOwner(target, async (db) => {
    await requireRight(db, "createdb", "backup verify restores into a scratch database on the same server");
    await requireClient("pg_restore", target.binDir, db);
    await dropAbandonedScratch(db);
    await db.query(`create database ${quoteIdent(name)} template template0`);
    await db.query(
      `comment on database ${quoteIdent(name)} is 'causeloop backup verify scratch copy: host=${hostname().replaceAll("'", "")} pid=${process.pid}'`,
    );
  });
  const url = new URL(target.owner.url);
  url.pathname = `/${name}`;
  return {
    name,
    loader: restoreLoader({ ...target.owner, url: url.toString(), database: name }, target.binDir, {
      clean: false,
      label: `backup (scratch PostgreSQL database ${name})`,
    }),
    drop: () =>
      withOwner(target, (db) => db.query(`drop database if exists ${quoteIdent(name)} with (force)`)).then(() => {}),
  };
}
