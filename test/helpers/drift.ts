// Drift between the drizzle mirror (src/db/schema) and the migrated database: tables, columns, types,
// nullability and defaults. db/migrations is the source of truth; a difference means the mirror is stale.
// The database side is read from information_schema for the current schema (base tables only).
import { is, SQL } from "drizzle-orm";
import { getTableConfig, PgDialect, PgTable, type PgColumn } from "drizzle-orm/pg-core";
import * as schema from "../../src/db/schema/index.ts";

/** Anything that runs a query and returns rows (an Engine, a transaction, a PGlite adapter). */
export interface DriftQueryable {
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface LiveColumn {
  name: string;
  /** Normalized type, in format_type() style: "text", "numeric(5,4)", "text[]", "timestamp with time zone". */
  sql_type: string;
  nullable: boolean;
  default_expr: string | null;
}

type InfoColumnRow = {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  numeric_precision: number | null;
  numeric_scale: number | null;
  character_maximum_length: number | null;
  is_nullable: string;
  column_default: string | null;
};

const UDT_NAMES: Record<string, string> = {
  int2: "smallint",
  int4: "integer",
  int8: "bigint",
  float4: "real",
  float8: "double precision",
  bool: "boolean",
  varchar: "character varying",
  bpchar: "character",
  timestamptz: "timestamp with time zone",
  timestamp: "timestamp without time zone",
  timetz: "time with time zone",
  time: "time without time zone",
};

function liveType(row: InfoColumnRow): string {
  if (row.data_type === "ARRAY") {
    const element = row.udt_name.replace(/^_/, "");
    return `${UDT_NAMES[element] ?? element}[]`;
  }
  if (row.data_type === "USER-DEFINED") return row.udt_name;
  if (row.data_type === "numeric") {
    return row.numeric_precision !== null ? `numeric(${row.numeric_precision},${row.numeric_scale ?? 0})` : "numeric";
  }
  if (
    (row.data_type === "character varying" || row.data_type === "character") &&
    row.character_maximum_length !== null
  ) {
    return `${row.data_type}(${row.character_maximum_length})`;
  }
  return row.data_type;
}

/** Every base table of the current schema with its columns in order, as information_schema describes them. */
export async function describeColumns(db: DriftQueryable): Promise<Map<string, LiveColumn[]>> {
  const rows = await db.query<InfoColumnRow>(
    `select c.table_name::text as table_name, c.column_name::text as column_name, c.data_type::text as data_type,
            c.udt_name::text as udt_name, c.numeric_precision::int as numeric_precision, c.numeric_scale::int as numeric_scale,
            c.character_maximum_length::int as character_maximum_length, c.is_nullable::text as is_nullable,
            c.column_default::text as column_default
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      order by c.table_name, c.ordinal_position`,
  );
  const out = new Map<string, LiveColumn[]>();
  for (const row of rows) {
    const list = out.get(row.table_name) ?? [];
    list.push({
      name: row.column_name,
      sql_type: liveType(row),
      nullable: row.is_nullable === "YES",
      default_expr: row.column_default,
    });
    out.set(row.table_name, list);
  }
  return out;
}

// ---------------------------------------------------------------- types

const TYPE_ALIASES: Record<string, string> = {
  int: "integer",
  int4: "integer",
  int2: "smallint",
  int8: "bigint",
  serial: "integer",
  serial4: "integer",
  smallserial: "smallint",
  serial2: "smallint",
  bigserial: "bigint",
  serial8: "bigint",
  bool: "boolean",
  float4: "real",
  float8: "double precision",
  decimal: "numeric",
  varchar: "character varying",
  char: "character",
  timestamptz: "timestamp with time zone",
  timestamp: "timestamp without time zone",
  time: "time without time zone",
  timetz: "time with time zone",
};

/** Canonical type text: lower case, single spaces, no space after commas, aliases resolved. */
function normalizeType(raw: string): string {
  let t = raw
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/\s*,\s*/g, ",")
    .replace(/\s*\(\s*/g, "(")
    .replace(/\s*\)/g, ")")
    .trim();
  let dims = 0;
  while (/\[\d*\]$/.test(t)) {
    t = t.replace(/\[\d*\]$/, "").trim();
    dims++;
  }
  // Timestamps and times: the fractional precision is not compared, the time zone is.
  const temporal = /^(timestamp|time)(\(\d+\))?( (with|without) time zone)?$/.exec(t);
  if (temporal) t = `${temporal[1]} ${temporal[4] ?? "without"} time zone`;
  const [, base = t, mod = ""] = /^([a-z ]+?)(\(.*\))?$/.exec(t) ?? [];
  t = `${TYPE_ALIASES[base] ?? base}${mod}`;
  // information_schema carries no typmod for array elements, so element typmods are not compared.
  if (dims > 0) t = `${t.replace(/\(.*\)$/, "")}${"[]".repeat(dims)}`;
  return t;
}

// ---------------------------------------------------------------- defaults

/** Applies fn to the parts of s outside single-quoted literals, leaving the literals verbatim. */
function outsideQuotes(s: string, fn: (part: string) => string): string {
  return s
    .split(/('(?:[^']|'')*')/)
    .map((part, i) => (i % 2 === 1 ? part : fn(part)))
    .join("");
}

const INTERVAL_UNITS: Array<[RegExp, "years" | "months" | "days" | "seconds", number]> = [
  [/^(years?|y)$/, "years", 1],
  [/^(mons?|months?)$/, "months", 1],
  [/^(weeks?|w)$/, "days", 7],
  [/^(days?|d)$/, "days", 1],
  [/^(hours?|hrs?|h)$/, "seconds", 3600],
  [/^(minutes?|mins?|m)$/, "seconds", 60],
  [/^(seconds?|secs?|s)$/, "seconds", 1],
];

/** An interval literal in PostgreSQL's output style ('24 hours' -> '24:00:00', '1 day' -> '1 day'). */
function canonicalInterval(literal: string): string {
  const acc = { years: 0, months: 0, days: 0, seconds: 0 };
  const rest = literal
    .toLowerCase()
    .replace(/(-?\d+):(\d{2})(?::(\d{2}(?:\.\d+)?))?/g, (_, h: string, m: string, s: string | undefined) => {
      const sign = h.startsWith("-") ? -1 : 1;
      acc.seconds += Number(h) * 3600 + sign * (Number(m) * 60 + Number(s ?? 0));
      return " ";
    })
    .replace(/(-?\d+(?:\.\d+)?)\s*([a-z]+)/g, (whole, n: string, unit: string) => {
      const match = INTERVAL_UNITS.find(([re]) => re.test(unit));
      if (!match) return whole;
      acc[match[1]] += Number(n) * match[2];
      return " ";
    });
  if (rest.trim() !== "") return literal;
  const parts: string[] = [];
  const plural = (n: number, one: string, many: string) => `${n} ${Math.abs(n) === 1 ? one : many}`;
  if (acc.years) parts.push(plural(acc.years, "year", "years"));
  if (acc.months) parts.push(plural(acc.months, "mon", "mons"));
  if (acc.days) parts.push(plural(acc.days, "day", "days"));
  if (acc.seconds || parts.length === 0) {
    const sign = acc.seconds < 0 ? "-" : "";
    const total = Math.abs(acc.seconds);
    const pad = (n: number) => String(Math.floor(n)).padStart(2, "0");
    const frac = total % 1 ? String(total % 1).slice(1) : "";
    parts.push(`${sign}${pad(total / 3600)}:${pad((total % 3600) / 60)}:${pad(total % 60)}${frac}`);
  }
  return parts.join(" ");
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const unquote = (literal: string) => literal.slice(1, -1).replaceAll("''", "'");
const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;

const CAST =
  /::\s*(?:"[^"]+"|(?:timestamp|time)(?:\s*\(\d+\))?(?:\s+(?:with|without)\s+time\s+zone)?|character\s+varying|double\s+precision|[a-z_][a-z0-9_]*)(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\s*\[\d*\])*/g;

/** Loose canonical form of a default expression, for comparing drizzle's text with pg_get_expr()'s. */
export function normalizeDefault(expr: string): string {
  let s = outsideQuotes(expr.trim(), (p) => p.toLowerCase().replace(/\s+/g, " "));
  s = s.replace(/\binterval\s*('(?:[^']|'')*')/g, "$1::interval");
  s = s.replace(
    /('(?:[^']|'')*')\s*::\s*interval\b/g,
    (_, lit: string) => `${quote(canonicalInterval(unquote(lit)))}::interval`,
  );
  s = s.replace(/('(?:[^']|'')*')\s*::\s*jsonb?\b/g, (whole, lit: string) => {
    try {
      return `${quote(stableJson(JSON.parse(unquote(lit))))}::jsonb`;
    } catch {
      return whole;
    }
  });
  s = outsideQuotes(s, (p) => p.replace(CAST, "").replace(/\s+/g, ""));
  // Redundant wrapping parentheses: "(now() + x)" and "now()+x" are the same default.
  for (;;) {
    if (!s.startsWith("(") || !s.endsWith(")")) break;
    let depth = 0;
    let wraps = true;
    const body = outsideQuotes(s, (p) => p.replace(/[^()]/g, " "));
    for (let i = 0; i < body.length; i++) {
      if (body[i] === "(") depth++;
      else if (body[i] === ")") depth--;
      if (depth === 0 && i < body.length - 1) {
        wraps = false;
        break;
      }
    }
    if (!wraps) break;
    s = s.slice(1, -1);
  }
  const numeric = /^'?(-?\d+(?:\.\d+)?)'?$/.exec(s);
  if (numeric?.[1] !== undefined) s = String(Number(numeric[1]));
  return s;
}

const dialect = new PgDialect();

function literal(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return quote(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return quote(value.toISOString());
  if (Array.isArray(value)) {
    const items = value.map((v) =>
      typeof v === "string" ? `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"` : String(v),
    );
    return quote(`{${items.join(",")}}`);
  }
  return `${quote(JSON.stringify(value))}::jsonb`;
}

/** The SQL text of a drizzle column default, or null when the column declares none. */
function declaredDefault(col: PgColumn): string | null {
  const value: unknown = col.default;
  if (value === undefined) return null;
  if (is(value, SQL)) {
    const query = dialect.sqlToQuery(value);
    return query.sql.replace(/\$(\d+)/g, (whole, n: string) => {
      const index = Number(n) - 1;
      return index < query.params.length ? literal(query.params[index]) : whole;
    });
  }
  return literal(value);
}

// ---------------------------------------------------------------- drift

/** Human-readable differences between src/db/schema and the live database; empty when they agree. */
export async function schemaDrift(db: DriftQueryable): Promise<string[]> {
  const live = await describeColumns(db);
  const problems: string[] = [];
  const mirrored = new Set<string>();
  for (const value of Object.values(schema) as unknown[]) {
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
      const where = `${config.name}.${col.name}`;
      const actual = byName.get(col.name);
      if (!actual) {
        problems.push(`${where} is in the drizzle schema but not in the database`);
        continue;
      }
      byName.delete(col.name);
      const declaredType = col.getSQLType();
      if (normalizeType(declaredType) !== normalizeType(actual.sql_type)) {
        problems.push(`${where} type: drizzle ${declaredType}, database ${actual.sql_type}`);
      }
      if (col.notNull === actual.nullable) {
        problems.push(
          `${where} nullability: drizzle ${col.notNull ? "NOT NULL" : "NULL"}, database ${actual.nullable ? "NULL" : "NOT NULL"}`,
        );
      }
      let declared = declaredDefault(col);
      // serial columns get their nextval() default from the database, not from the drizzle declaration.
      if (declared === null && /serial/i.test(declaredType) && actual.default_expr?.startsWith("nextval("))
        declared = actual.default_expr;
      if ((declared === null) !== (actual.default_expr === null)) {
        problems.push(`${where} default: drizzle ${declared ?? "none"}, database ${actual.default_expr ?? "none"}`);
      } else if (
        declared !== null &&
        actual.default_expr !== null &&
        normalizeDefault(declared) !== normalizeDefault(actual.default_expr)
      ) {
        problems.push(`${where} default: drizzle ${declared}, database ${actual.default_expr}`);
      }
    }
    for (const extra of byName.keys())
      problems.push(`${config.name}.${extra} is in the database but not in the drizzle schema`);
  }
  for (const table of live.keys())
    if (!mirrored.has(table)) problems.push(`table ${table} is in the database but not in the drizzle schema`);
  return problems;
}
