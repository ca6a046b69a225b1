// Canary rows: a row in every tenant table for a workspace, made generically from the catalog, so an
// isolation probe covers a table added later without anyone editing this file; only a CHECK that no generic
// value satisfies needs an entry in OVERRIDES. Used by the isolation attestation (./attestation.ts) and the
// isolation test suite.
import type { Queryable } from "../db/engine.ts";

export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function tenantTables(owner: Queryable): Promise<string[]> {
  const rows = await owner.query<{ t: string }>(
    `select c.relname::text as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped)
      order by 1`,
  );
  return rows.map((r) => r.t);
}

interface Column {
  name: string;
  data_type: string;
  udt_name: string;
  required: boolean;
}

export async function columnsOf(q: Queryable, table: string): Promise<Column[]> {
  return q.query<Column>(
    `select column_name::text as name, data_type::text as data_type, udt_name::text as udt_name,
            (is_nullable = 'NO' and column_default is null) as required
       from information_schema.columns
      where table_schema = current_schema() and table_name = $1 and is_generated = 'NEVER'
      order by ordinal_position`,
    [table],
  );
}

/** Single-column CHECK definitions of a table, by column name. */
async function checksOf(q: Queryable, table: string): Promise<Map<string, string[]>> {
  const rows = await q.query<{ col: string; def: string }>(
    `select a.attname::text as col, pg_get_constraintdef(c.oid) as def
       from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
      where c.conrelid = $1::regclass and c.contype = 'c' and cardinality(c.conkey) = 1`,
    [table],
  );
  const byColumn = new Map<string, string[]>();
  for (const r of rows) byColumn.set(r.col, [...(byColumn.get(r.col) ?? []), r.def]);
  return byColumn;
}

const RANDOM_HEX64 = "encode(sha256(convert_to(new_id('h'), 'UTF8')), 'hex')";

/**
 * SQL expressions for CHECKs that are patterns or ranges rather than lists of allowed values. A "table.column"
 * key is applied even when the column is nullable (for multi-column CHECKs); a bare column name only fills a
 * required column.
 */
const OVERRIDES: Record<string, string> = {
  // CHECK ((user_id IS NULL) <> (service_account_id IS NULL)): exactly one owner.
  "personal_access_tokens.user_id": literal("usr_x"),
  hash: RANDOM_HEX64,
  subject_ref: RANDOM_HEX64,
  fingerprint: RANDOM_HEX64,
  action: literal("test.event"),
  kind: literal("test.event"),
  url: literal("https://example.test/hook"),
  user_id: literal("usr_x"),
  // CHECK (connection_id ~ '^(sso_...|global)$')
  "sso_identities.connection_id": literal("global"),
};

/** The first allowed value of `col = ANY (ARRAY['a'::text, ...])` (what `IN (...)` becomes) or `col = 'a'::text`. */
function allowedValue(checks: string[]): string | undefined {
  for (const def of checks) {
    const match = /= ANY \(\(?ARRAY\[('(?:[^']|'')*')/.exec(def) ?? /= ('(?:[^']|'')*')::/.exec(def);
    if (match?.[1]) return match[1];
  }
  return undefined;
}

function typeDefault(table: string, col: Column): string {
  switch (col.data_type) {
    case "text":
    case "character varying":
      return literal("x");
    case "integer":
    case "bigint":
    case "smallint":
      return "1";
    case "numeric":
      return "0.5";
    case "boolean":
      return "false";
    case "jsonb":
    case "json":
      return "'{}'";
    case "ARRAY":
      return `'{}'::${col.udt_name.slice(1)}[]`;
    case "timestamp with time zone":
    case "timestamp without time zone":
      return "now()";
    case "inet":
      return "'127.0.0.1'";
    default:
      throw new Error(
        `seeding ${table}: no generic value for ${col.name} of type ${col.data_type}; add it to OVERRIDES`,
      );
  }
}

function valueFor(table: string, col: Column, checks: string[]): string {
  return (
    OVERRIDES[`${table}.${col.name}`] ??
    allowedValue(checks) ??
    OVERRIDES[col.name] ??
    (col.name.endsWith("_hash") ? RANDOM_HEX64 : undefined) ??
    typeDefault(table, col)
  );
}

/** One INSERT per tenant table, built from the catalog once and used for as many workspaces as needed. */
export async function canaryInserts(q: Queryable): Promise<{ table: string; sql: string }[]> {
  const out: { table: string; sql: string }[] = [];
  for (const table of await tenantTables(q)) {
    const checks = await checksOf(q, table);
    const names: string[] = [];
    const values: string[] = [];
    for (const col of await columnsOf(q, table)) {
      const value =
        col.name === "workspace_id"
          ? "$1"
          : col.name === "id"
            ? "new_id('tst')"
            : col.required || OVERRIDES[`${table}.${col.name}`]
              ? valueFor(table, col, checks.get(col.name) ?? [])
              : undefined;
      if (value === undefined) continue;
      names.push(ident(col.name));
      values.push(value);
    }
    // A table that already has the workspace's row (workspace_settings, UNIQUE (workspace_id)) is skipped.
    out.push({
      table,
      sql: `insert into ${ident(table)} (${names.join(", ")}) select ${values.join(", ")} where not exists (select 1 from ${ident(table)} where workspace_id = $1)`,
    });
  }
  return out;
}

/**
 * Inserts a row into every tenant table for the workspace that has none yet, generically from the catalog,
 * inside the caller's owner transaction with FK triggers off (session_replication_role = replica, which needs
 * a superuser owner, or one granted SET on that parameter).
 */
export async function seedEveryTenantTableIn(
  tx: Queryable & { exec(sql: string): Promise<void> },
  workspaceId: string,
  inserts?: { table: string; sql: string }[],
): Promise<void> {
  await tx.exec("SET LOCAL session_replication_role = replica");
  for (const { table, sql } of inserts ?? (await canaryInserts(tx))) {
    try {
      await tx.query(sql, [workspaceId]);
    } catch (error) {
      throw new Error(`seeding ${table} failed: ${(error as Error).message}\n  ${sql}`);
    }
  }
  await tx.exec("SET LOCAL session_replication_role = origin");
}
