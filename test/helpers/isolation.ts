// The SOC 2 isolation evidence, driven by the catalog: every table with a workspace_id is found, seeded
// generically and probed as the runtime role through the tenant door. A table added later is covered
// without editing this file; only a CHECK that no generic value satisfies needs an entry in OVERRIDES.
import type { Engine, Tx } from "../../src/db/engine.ts";
import { APP_ROLE, withTenant, withoutTenant } from "../../src/db/tenant.ts";

const UNKNOWN_WORKSPACE = `ws_${"0".repeat(26)}`;
/** SQLSTATE of both "permission denied" and "new row violates row-level security policy". */
const INSUFFICIENT_PRIVILEGE = "42501";

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function tenantTables(owner: Engine): Promise<string[]> {
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

async function columnsOf(q: Engine | Tx, table: string): Promise<Column[]> {
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
async function checksOf(q: Tx, table: string): Promise<Map<string, string[]>> {
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

/**
 * Inserts a row into every tenant table for the workspace that has none yet, generically from the catalog,
 * in one owner transaction with FK triggers off (session_replication_role = replica; the owner is a superuser).
 */
export async function seedEveryTenantTable(owner: Engine, workspaceId: string): Promise<void> {
  const tables = await tenantTables(owner);
  await owner.transaction(async (tx) => {
    await tx.exec("SET LOCAL session_replication_role = replica");
    for (const table of tables) {
      const [present] = await tx.query(`select 1 from ${ident(table)} where workspace_id = $1 limit 1`, [workspaceId]);
      if (present) continue; // e.g. workspace_settings, which createTenant already fills (UNIQUE (workspace_id))
      const checks = await checksOf(tx, table);
      const names: string[] = [];
      const values: string[] = [];
      for (const col of await columnsOf(tx, table)) {
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
      const sql = `insert into ${ident(table)} (${names.join(", ")}) values (${values.join(", ")})`;
      try {
        await tx.query(sql, [workspaceId]);
      } catch (error) {
        throw new Error(`seeding ${table} failed: ${(error as Error).message}\n  ${sql}`);
      }
    }
  });
}

type Outcome = { ok: true; rows: number } | { ok: false; code: string | undefined; message: string };

async function attempt(run: () => Promise<unknown[]>): Promise<Outcome> {
  try {
    return { ok: true, rows: (await run()).length };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code, message: (error as Error).message };
  }
}

/** A refusal counts as isolation only when it is a privilege/RLS refusal, not some other error. */
function writeViolation(what: string, outcome: Outcome): string | undefined {
  if (outcome.ok) return outcome.rows > 0 ? `inside A, ${what} affected ${outcome.rows} of B's rows` : undefined;
  if (outcome.code === INSUFFICIENT_PRIVILEGE) return undefined;
  return `inside A, ${what} failed for a reason other than RLS or privileges (${outcome.code}: ${outcome.message})`;
}

/** Every way the runtime role could reach B's rows of one table from inside A, or without a tenant; [] = isolated. */
export async function isolationViolations(
  app: Engine,
  table: string,
  a: string,
  b: string,
  owner: Engine,
): Promise<string[]> {
  const t = ident(table);
  const violations: string[] = [];
  const report = (v: string | undefined) => {
    if (v) violations.push(v);
  };

  // (i) inside A: A's rows, only A's rows.
  try {
    const rows = await withTenant(app, a, (tx) => tx.query<{ workspace_id: string }>(`select workspace_id from ${t}`));
    const ofB = rows.filter((r) => r.workspace_id === b).length;
    const ofOthers = rows.filter((r) => r.workspace_id !== a && r.workspace_id !== b).length;
    if (rows.length === 0) report("inside A, A's own rows are not visible");
    if (ofB) report(`inside A, SELECT sees ${ofB} of B's rows`);
    if (ofOthers) report(`inside A, SELECT sees ${ofOthers} rows of other workspaces`);
  } catch (error) {
    report(`inside A, SELECT failed (${(error as Error).message})`);
  }

  // (ii) inside A: a copy of an A row, re-targeted at B with a new id, must be refused.
  const columns = (await columnsOf(owner, table)).map((c) => c.name);
  const source = columns.map((c) => (c === "workspace_id" ? "$1::text" : c === "id" ? "new_id('tst')" : ident(c)));
  const copy = `insert into ${t} (${columns.map(ident).join(", ")}) select ${source.join(", ")} from ${t} where workspace_id = $2 limit 1 returning 1`;
  const inserted = await attempt(() => withTenant(app, a, (tx) => tx.query(copy, [b, a])));
  if (inserted.ok)
    report(
      inserted.rows > 0
        ? "inside A, inserting a row for B succeeded"
        : "inside A, no A row to copy for the insert probe",
    );
  else report(writeViolation("INSERT of a row for B", inserted));

  // (iii), (iv) inside A: B's rows can be neither updated nor deleted; the owner confirms B is untouched.
  const fingerprint = async () =>
    (
      await owner.query<{ n: number; h: string }>(
        `select count(*)::int as n, coalesce(md5(string_agg(x::text, ',' order by x.id)), '') as h from ${t} x where workspace_id = $1`,
        [b],
      )
    )[0];
  const before = await fingerprint();
  report(
    writeViolation(
      "UPDATE",
      await attempt(() =>
        withTenant(app, a, (tx) =>
          tx.query(`update ${t} set workspace_id = workspace_id where workspace_id = $1 returning 1`, [b]),
        ),
      ),
    ),
  );
  report(
    writeViolation(
      "DELETE",
      await attempt(() =>
        withTenant(app, a, (tx) => tx.query(`delete from ${t} where workspace_id = $1 returning 1`, [b])),
      ),
    ),
  );
  const after = await fingerprint();
  if (before?.h !== after?.h) report(`B's rows changed (count ${before?.n} -> ${after?.n})`);

  // (v) no tenant, an empty setting, an unknown workspace: nothing visible.
  const count = `select count(*)::int as n from ${t}`;
  const outside: Array<[string, () => Promise<{ n: number }[]>]> = [
    ["with no workspace set", () => withoutTenant(app, (tx) => tx.query(count))],
    [
      "with an empty workspace setting",
      () =>
        app.transaction(async (tx) => {
          if (app.switchRoleInTransactions) await tx.exec(`set local role ${APP_ROLE}`);
          await tx.query("select set_config('app.current_workspace', '', true)");
          return tx.query(count);
        }),
    ],
    ["with an unknown workspace id", () => withTenant(app, UNKNOWN_WORKSPACE, (tx) => tx.query(count))],
  ];
  for (const [label, run] of outside) {
    try {
      const n = (await run())[0]?.n ?? 0;
      if (n > 0) report(`${label}, SELECT sees ${n} rows`);
    } catch (error) {
      report(`${label}, SELECT failed (${(error as Error).message})`);
    }
  }
  return violations;
}
