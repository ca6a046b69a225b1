// The PostgreSQL part of a relay policy: its shape, its validation, and the name matching the checker uses.
// Names are compared as PostgreSQL stores them (unquoted identifiers are folded to lower case by the parser).
// Deny entries match case-insensitively and allow entries exactly, so a spelling mistake can only ever
// refuse more, never let more through.

export interface PgPolicy {
  /** Default ["public"]; the executor pins it for every query. */
  search_path?: string[];
  /** "schema.table" or "schema.*"; an unqualified entry means search_path[0]. No allow list: nothing allowed. */
  tables?: { allow?: string[]; deny?: string[] };
  /** "schema.table.column", "table.column" or bare "column"; default on_denied: "refuse". */
  columns?: { deny?: string[]; on_denied?: "refuse" | "mask" };
  /** Functions allowed on top of the built-in safe list: "name" or "schema.name". */
  functions?: { allow?: string[] };
  /** pg_catalog / information_schema / pg_toast relations; default false. */
  system_catalogs?: boolean;
  /** EXPLAIN without ANALYZE; default true. */
  explain?: boolean;
}

export const SYSTEM_SCHEMAS = new Set(["pg_catalog", "information_schema", "pg_toast"]);

/** Catalogs holding password hashes, server files or credentials: refused even when system_catalogs is on. */
const ALWAYS_DENIED = new Set([
  "pg_catalog.pg_authid",
  "pg_catalog.pg_shadow",
  "pg_catalog.pg_user_mapping",
  "pg_catalog.pg_user_mappings",
  "pg_catalog.pg_largeobject",
  "pg_catalog.pg_hba_file_rules",
  "pg_catalog.pg_ident_file_mappings",
  "pg_catalog.pg_file_settings",
  "information_schema.user_mapping_options",
]);

export interface QualifiedName {
  schema: string;
  name: string;
}

interface ColumnRule {
  schema?: string;
  table?: string;
  column: string;
}

const KEYS = ["search_path", "tables", "columns", "functions", "system_catalogs", "explain"];
const NAME_PART = /^[^.\s"]+$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, path: string, parts: [number, number], allowStar: boolean): string[] {
  if (!Array.isArray(value)) throw new Error(`${path}: must be a list of names`);
  return value.map((entry, i) => {
    const at = `${path}[${i}]`;
    if (typeof entry !== "string" || entry.trim() === "") throw new Error(`${at}: must be a non-empty name`);
    const split = entry.split(".");
    const ok =
      split.length >= parts[0] &&
      split.length <= parts[1] &&
      split.every((p, j) => NAME_PART.test(p) && (p !== "*" || (allowStar && j === split.length - 1 && j > 0)));
    if (!ok) throw new Error(`${at}: "${entry}" is not a valid name (expected ${describeParts(parts, allowStar)})`);
    return entry;
  });
}

function describeParts(parts: [number, number], allowStar: boolean): string {
  if (parts[1] === 3) return '"schema.table.column", "table.column" or "column"';
  if (allowStar) return '"schema.table", "schema.*" or "table"';
  return '"name" or "schema.name"';
}

function checkKeys(raw: Record<string, unknown>, allowed: string[], path: string): void {
  for (const key of Object.keys(raw)) {
    if (!allowed.includes(key))
      throw new Error(`${path}.${key}: unknown setting (expected one of ${allowed.join(", ")})`);
  }
}

/** Checks a policy read from configuration; throws Error("policy.postgres.tables.allow[2]: ...") on the first fault. */
export function validatePgPolicy(raw: unknown, path = "policy.postgres"): PgPolicy {
  if (!isRecord(raw)) throw new Error(`${path}: must be an object`);
  checkKeys(raw, KEYS, path);
  const policy: PgPolicy = {};
  if (raw.search_path !== undefined) {
    const list = stringList(raw.search_path, `${path}.search_path`, [1, 1], false);
    if (list.length === 0) throw new Error(`${path}.search_path: must name at least one schema`);
    policy.search_path = list;
  }
  if (raw.tables !== undefined) {
    if (!isRecord(raw.tables)) throw new Error(`${path}.tables: must be an object with allow and deny lists`);
    checkKeys(raw.tables, ["allow", "deny"], `${path}.tables`);
    policy.tables = {};
    if (raw.tables.allow !== undefined)
      policy.tables.allow = stringList(raw.tables.allow, `${path}.tables.allow`, [1, 2], true);
    if (raw.tables.deny !== undefined)
      policy.tables.deny = stringList(raw.tables.deny, `${path}.tables.deny`, [1, 2], true);
  }
  if (raw.columns !== undefined) {
    if (!isRecord(raw.columns)) throw new Error(`${path}.columns: must be an object with deny and on_denied`);
    checkKeys(raw.columns, ["deny", "on_denied"], `${path}.columns`);
    policy.columns = {};
    if (raw.columns.deny !== undefined)
      policy.columns.deny = stringList(raw.columns.deny, `${path}.columns.deny`, [1, 3], false);
    const mode = raw.columns.on_denied;
    if (mode !== undefined && mode !== "refuse" && mode !== "mask")
      throw new Error(`${path}.columns.on_denied: must be "refuse" or "mask"`);
    if (mode !== undefined) policy.columns.on_denied = mode;
  }
  if (raw.functions !== undefined) {
    if (!isRecord(raw.functions)) throw new Error(`${path}.functions: must be an object with an allow list`);
    checkKeys(raw.functions, ["allow"], `${path}.functions`);
    if (raw.functions.allow !== undefined)
      policy.functions = { allow: stringList(raw.functions.allow, `${path}.functions.allow`, [1, 2], false) };
  }
  for (const key of ["system_catalogs", "explain"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== "boolean") throw new Error(`${path}.${key}: must be true or false`);
    policy[key] = value;
  }
  return policy;
}

/** The policy with its lists parsed once, answering the checker's questions. */
export class CompiledPgPolicy {
  readonly searchPath: string[];
  readonly maskDenied: boolean;
  readonly explain: boolean;
  readonly extraFunctions: Set<string>;
  private readonly allow: QualifiedName[];
  private readonly deny: QualifiedName[];
  private readonly columnRules: ColumnRule[];
  private readonly systemCatalogs: boolean;

  constructor(policy: PgPolicy) {
    this.searchPath = policy.search_path ?? ["public"];
    const first = this.searchPath[0] ?? "public";
    const qualify = (entry: string): QualifiedName => {
      const [a, b] = entry.split(".");
      return b === undefined ? { schema: first, name: a ?? "" } : { schema: a ?? "", name: b };
    };
    this.allow = (policy.tables?.allow ?? []).map(qualify);
    this.deny = (policy.tables?.deny ?? []).map(qualify);
    this.columnRules = (policy.columns?.deny ?? []).map((entry) => {
      const parts = entry.toLowerCase().split(".");
      if (parts.length === 3) return { schema: parts[0], table: parts[1], column: parts[2] ?? "" };
      if (parts.length === 2) return { table: parts[0], column: parts[1] ?? "" };
      return { column: parts[0] ?? "" };
    });
    this.maskDenied = policy.columns?.on_denied === "mask";
    this.explain = policy.explain ?? true;
    this.systemCatalogs = policy.system_catalogs ?? false;
    this.extraFunctions = new Set(policy.functions?.allow ?? []);
  }

  /** Why the table may not be read, or null when it may. */
  tableRefusal(table: QualifiedName): string | null {
    const label = `${table.schema}.${table.name}`;
    if (ALWAYS_DENIED.has(label.toLowerCase())) return `${label} is never readable through the relay`;
    const schema = table.schema.toLowerCase();
    if (SYSTEM_SCHEMAS.has(schema) || schema.startsWith("pg_temp") || schema.startsWith("pg_toast")) {
      if (!this.systemCatalogs) return `${label} is a system catalog and the policy does not allow system catalogs`;
      return this.denied(table) ? `${label} is denied by the policy` : null;
    }
    if (this.denied(table)) return `${label} is denied by the policy`;
    const allowed = this.allow.some((a) => a.schema === table.schema && (a.name === "*" || a.name === table.name));
    return allowed ? null : `${label} is not in the policy's allowed tables`;
  }

  private denied(table: QualifiedName): boolean {
    const schema = table.schema.toLowerCase();
    const name = table.name.toLowerCase();
    return this.deny.some(
      (d) => d.schema.toLowerCase() === schema && (d.name === "*" || d.name.toLowerCase() === name),
    );
  }

  /** Denied columns of a table, as "schema.table.column" labels keyed by column name (lower case). */
  deniedColumns(table: QualifiedName): Map<string, string> {
    const schema = table.schema.toLowerCase();
    const name = table.name.toLowerCase();
    const out = new Map<string, string>();
    for (const rule of this.columnRules) {
      if (rule.schema !== undefined && rule.schema !== schema) continue;
      if (rule.table !== undefined && rule.table !== name) continue;
      out.set(rule.column, `${table.schema}.${table.name}.${rule.column}`);
    }
    return out;
  }

  /** Denied columns that match a table of this name in any schema (used when a qualifier names no FROM item). */
  deniedByTableName(tableName: string, column: string): string | null {
    const name = tableName.toLowerCase();
    const col = column.toLowerCase();
    const rule = this.columnRules.find((r) => r.column === col && (r.table === undefined || r.table === name));
    return rule ? `${tableName}.${column}` : null;
  }

  /** A bare column deny ("ssn" on every table). */
  bareDenied(column: string): boolean {
    const col = column.toLowerCase();
    return this.columnRules.some((r) => r.table === undefined && r.column === col);
  }

  /** Schemas the allow list can reach (system schemas only when system catalogs are allowed). */
  candidateSchemas(): string[] {
    return this.allow.map((a) => a.schema);
  }

  get hasColumnRules(): boolean {
    return this.columnRules.length > 0;
  }
}
