// The SOC 2 isolation evidence, driven by the catalog: every table with a workspace_id is found, seeded
// generically and probed as the runtime role through the tenant door. A table added later is covered
// without editing this file.
import type { Engine, Tx } from "../../src/db/engine.ts";
import { APP_ROLE, withTenant, withoutTenant } from "../../src/db/tenant.ts";

export async function tenantTables(owner: Engine): Promise<string[]> {
  const rows = await owner.query<{ t: string }>(
    `select c.relname::text as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p')
        and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'workspace_id' and not a.attisdropped)
      order by 1`,
  );
  return rows.map((r) => r.t);
}

interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  has_default: boolean;
  checks: string[] | null;
}

const HEX64 = "a".repeat(64);

/** Values for columns whose CHECK is a pattern or a range rather than a list of allowed values. */
function override(table: string, column: string): string | undefined {
  if (column === "hash" || column.endsWith("_hash") || column === "subject_ref") return HEX64;
  if (column === "action") return "test.event";
  if (column === "kind" && (table === "activity_events" || table === "jobs")) return "test.event";
  if (column === "url" || column === "jwks_url") return "https://example.com/hook";
  if (column === "probability" || column === "risk_score") return "0.5";
  if (column === "version" || column === "kek_version" || column === "horizon_hours" || column === "max_attempts") return "1";
  return undefined;
}

function allowedValue(checks: string[] | null): string | undefined {
  for (const check of checks ?? []) {
    const list = /ARRAY\[(.+?)\]/.exec(check)?.[1];
    const first = list ? /'([^']*)'/.exec(list)?.[1] : undefined;
    if (first !== undefined) return first;
  }
  return undefined;
}

function defaultFor(type: string): string {
  if (type === "jsonb" || type === "json") return "{}";
  if (type.startsWith("_")) return "{}";
  if (type === "bool") return "false";
  if (type === "timestamptz" || type === "timestamp") return new Date().toISOString();
  if (type === "inet") return "127.0.0.1";
  if (["int2", "int4", "int8", "numeric", "float4", "float8"].includes(type)) return "1";
  return "x";
}

/** Inserts at least one row into every tenant table for the workspace (FK checks off for the seeding only). */
export async function seedEveryTenantTable(owner: Engine, workspaceId: string): Promise<void> {
  const tables = await tenantTables(owner);
  await owner.transaction(async (tx) => {
    await tx.exec("SET LOCAL session_replication_role = replica");
    for (const table of tables) {
      const columns = await tx.query<ColumnInfo>(
        `select a.attname::text as name, t.typname::text as type, not a.attnotnull as nullable, a.atthasdef as has_default,
                array(select pg_get_constraintdef(c.oid) from pg_constraint c
                       where c.conrelid = a.attrelid and c.contype = 'c' and c.conkey = array[a.attnum]) as checks
           from pg_attribute a join pg_type t on t.oid = a.atttypid
          where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum`,
        [table],
      );
      const names: string[] = [];
      const values: string[] = [];
      const params: unknown[] = [];
      for (const col of columns) {
        if (col.name === "workspace_id") {
          params.push(workspaceId);
        } else if (col.name === "id") {
          names.push("id");
          values.push("new_id('tst')");
          continue;
        } else if ((!col.nullable && !col.has_default) || col.name === "user_id") {
          // user_id is filled even where nullable: personal_access_tokens requires exactly one owner.
          params.push(override(table, col.name) ?? allowedValue(col.checks) ?? defaultFor(col.type));
        } else continue;
        names.push(`"${col.name}"`);
        values.push(`$${params.length}::${col.type.startsWith("_") ? `${col.type.slice(1)}[]` : col.type}`);
      }
      try {
        await tx.query(`insert into "${table}" (${names.join(", ")}) values (${values.join(", ")}) on conflict do nothing`, params);
      } catch (error) {
        throw new Error(`seeding ${table} failed: ${(error as Error).message}`);
      }
    }
  });
}

async function attempt(fn: () => Promise<unknown>): Promise<"ok" | "refused"> {
  try {
    await fn();
    return "ok";
  } catch {
    return "refused";
  }
}

/** Everything the runtime role can do to B's rows of one table from inside A, as a list of violations. */
export async function isolationViolations(app: Engine, owner: Engine, table: string, a: string, b: string): Promise<string[]> {
  const violations: string[] = [];
  const count = async (ws: string) => (await owner.query<{ n: number }>(`select count(*)::int as n from "${table}" where workspace_id = $1`, [ws]))[0]?.n ?? 0;
  const bBefore = await count(b);

  const seen = await withTenant(app, a, (tx) => tx.query<{ workspace_id: string }>(`select workspace_id from "${table}"`));
  if (seen.length === 0) violations.push("inside A, A's own rows are not visible");
  if (seen.some((r) => r.workspace_id !== a)) violations.push("inside A, rows of another workspace are visible");

  const [row] = await owner.query<Record<string, unknown>>(`select * from "${table}" where workspace_id = $1 limit 1`, [a]);
  if (row) {
    const columns = Object.keys(row);
    const copy = columns.map((c) => (c === "workspace_id" ? b : c === "id" ? `tst_${crypto.randomUUID().replaceAll("-", "").slice(0, 26)}` : row[c]));
    const types = await owner.query<{ name: string; type: string }>(
      `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped`,
      [table],
    );
    const typeOf = new Map(types.map((t) => [t.name, t.type]));
    const placeholders = columns.map((c, i) => `$${i + 1}::${typeOf.get(c)}`);
    const params = copy.map((v) => (v !== null && typeof v === "object" && !(v instanceof Date) && !Array.isArray(v) ? JSON.stringify(v) : v));
    const inserted = await attempt(() => withTenant(app, a, (tx) => tx.query(`insert into "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) values (${placeholders.join(", ")})`, params)));
    if (inserted === "ok") violations.push("inside A, inserting a row for B succeeded");
  }

  const affected = async (sql: string) => {
    try {
      return (await withTenant(app, a, (tx) => tx.query(`${sql} returning 1`, [b]))).length;
    } catch {
      return 0; // permission denied or append-only trigger: nothing changed
    }
  };
  if ((await affected(`update "${table}" set workspace_id = workspace_id where workspace_id = $1`)) > 0) violations.push("inside A, updating B's rows affected rows");
  if ((await affected(`delete from "${table}" where workspace_id = $1`)) > 0) violations.push("inside A, deleting B's rows affected rows");
  if ((await count(b)) !== bBefore) violations.push("B's row count changed");

  const outside = await withoutTenant(app, (tx) => tx.query(`select 1 from "${table}"`));
  if (outside.length) violations.push("with no workspace set, rows are visible");
  const empty = await app.transaction(async (tx: Tx) => {
    if (app.switchRoleInTransactions) await tx.exec(`set local role ${APP_ROLE}`);
    await tx.query("select set_config('app.current_workspace', '', true)");
    return tx.query(`select 1 from "${table}"`);
  });
  if (empty.length) violations.push("with an empty workspace setting, rows are visible");
  const unknown = await withTenant(app, `ws_${"0".repeat(26)}`, (tx) => tx.query(`select 1 from "${table}"`));
  if (unknown.length) violations.push("with an unknown workspace id, rows are visible");
  return violations;
}
