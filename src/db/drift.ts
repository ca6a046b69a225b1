// Drift between the drizzle mirror (src/db/schema) and the migrated database: tables, columns, types,
// nullability and defaults. db/migrations is the source of truth; a difference means the mirror is stale.
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { is, SQL } from "drizzle-orm";
import type { Queryable } from "./engine.ts";
import * as schema from "./schema/index.ts";

export interface LiveColumn {
  name: string;
  sql_type: string;
  nullable: boolean;
  default_expr: string | null;
}

/** Every table of the current schema with its columns in order, as the catalog describes them. */
export async function describeColumns(db: Queryable): Promise<Map<string, LiveColumn[]>> {
  const rows = await db.query<LiveColumn & { table_name: string }>(
    `select c.relname::text as table_name, a.attname::text as name, format_type(a.atttypid, a.atttypmod) as sql_type,
            not a.attnotnull as nullable, pg_get_expr(d.adbin, d.adrelid) as default_expr
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
      where n.nspname = current_schema() and c.relkind in ('r', 'p')
      order by c.relname, a.attnum`,
  );
  const out = new Map<string, LiveColumn[]>();
  for (const { table_name, ...col } of rows) {
    const list = out.get(table_name) ?? [];
    list.push(col);
    out.set(table_name, list);
  }
  return out;
}

const normalizeType = (t: string) => t.replace(/\s+/g, " ").replace(/,\s*/g, ",").trim().toLowerCase();
const normalizeDefault = (d: string) => d.replace(/\s+/g, "").toLowerCase();

function defaultText(value: unknown): string | null {
  if (value === undefined) return null;
  if (is(value, SQL)) {
    return value.queryChunks.map((chunk) => (typeof chunk === "object" && chunk !== null && "value" in chunk ? (chunk.value as string[]).join("") : String(chunk))).join("");
  }
  return String(value);
}

export async function schemaDrift(db: Queryable): Promise<string[]> {
  const live = await describeColumns(db);
  const problems: string[] = [];
  const mirrored = new Set<string>();
  for (const value of Object.values(schema)) {
    if (!is(value, PgTable)) continue;
    const config = getTableConfig(value);
    mirrored.add(config.name);
    const columns = live.get(config.name);
    if (!columns) {
      problems.push(`table ${config.name} is in the drizzle schema but not in the database`);
      continue;
    }
    const byName = new Map(columns.map((c) => [c.name, c]));
    for (const col of config.columns) {
      const actual = byName.get(col.name);
      if (!actual) {
        problems.push(`${config.name}.${col.name} is in the drizzle schema but not in the database`);
        continue;
      }
      byName.delete(col.name);
      const declared = normalizeType(col.getSQLType()).replace(/^timestamp with time zone$/, "timestamp with time zone");
      if (declared !== normalizeType(actual.sql_type)) problems.push(`${config.name}.${col.name} type: drizzle ${col.getSQLType()}, database ${actual.sql_type}`);
      if (col.notNull === actual.nullable) problems.push(`${config.name}.${col.name} nullability: drizzle ${col.notNull ? "NOT NULL" : "NULL"}, database ${actual.nullable ? "NULL" : "NOT NULL"}`);
      const declaredDefault = defaultText(col.default);
      if ((declaredDefault === null) !== (actual.default_expr === null)) {
        problems.push(`${config.name}.${col.name} default: drizzle ${declaredDefault ?? "none"}, database ${actual.default_expr ?? "none"}`);
      } else if (declaredDefault !== null && actual.default_expr !== null && normalizeDefault(declaredDefault) !== normalizeDefault(actual.default_expr)) {
        problems.push(`${config.name}.${col.name} default: drizzle ${declaredDefault}, database ${actual.default_expr}`);
      }
    }
    for (const extra of byName.keys()) problems.push(`${config.name}.${extra} is in the database but not in the drizzle schema`);
  }
  for (const table of live.keys()) if (!mirrored.has(table)) problems.push(`table ${table} is in the database but not in the drizzle schema`);
  return problems;
}
