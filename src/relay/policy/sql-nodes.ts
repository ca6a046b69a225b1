// Shapes of libpg-query's JSON parse tree the SQL checker relies on: how a node is tagged, which node types
// are known, and small readers for names. A node is `{ "TypeName": { ...fields } }`; some fields hold a struct
// without its tag, listed in UNTAGGED.
import type { PgNode } from "./parser.ts";
import { refuse } from "./sql-scope.ts";

export type Fields = Record<string, unknown>;
/** Expression nodes that only combine their children: walking every field is the whole check. */
export const PASS_THROUGH = new Set([
  "BoolExpr",
  "NullTest",
  "BooleanTest",
  "CaseExpr",
  "CaseWhen",
  "CoalesceExpr",
  "MinMaxExpr",
  "A_ArrayExpr",
  "A_Indirection",
  "A_Indices",
  "RowExpr",
  "TypeCast",
  "CollateClause",
  "SortBy",
  "GroupingSet",
  "GroupingFunc",
  "NamedArgExpr",
  "TypeName",
  "Alias",
  "List",
  "WindowDef",
  "ColumnDef",
  "CTESearchClause",
  "CTECycleClause",
  "JsonIsPredicate",
  "JsonFormat",
  "JsonOutput",
  "JsonReturning",
]);
/** Leaves: constants and niladic SQL functions (CURRENT_DATE, CURRENT_USER, ...). */
export const LEAVES = new Set([
  "A_Const",
  "String",
  "Integer",
  "Float",
  "Boolean",
  "BitString",
  "A_Star",
  "SQLValueFunction",
]);
/** Fields holding a struct without its type tag, and the type it is. */
export const UNTAGGED: Record<string, string> = {
  over: "WindowDef",
  typeName: "TypeName",
  alias: "Alias",
  format: "JsonFormat",
};
/** Clauses where a bare name or a number can mean an output column. */
export const OUTPUT_REFERENCING = new Set(["groupClause", "sortClause", "distinctClause"]);
export const SELECT_KEYS = new Set([
  "distinctClause",
  "intoClause",
  "targetList",
  "fromClause",
  "whereClause",
  "groupClause",
  "groupDistinct",
  "havingClause",
  "windowClause",
  "valuesLists",
  "sortClause",
  "limitOffset",
  "limitCount",
  "limitOption",
  "lockingClause",
  "withClause",
  "op",
  "all",
  "larg",
  "rarg",
]);

export function tagOf(node: unknown): [string, Fields] | null {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return null;
  const keys = Object.keys(node);
  const tag = keys[0];
  if (keys.length !== 1 || tag === undefined || !/^[A-Z]/.test(tag)) return null;
  const body = (node as PgNode)[tag];
  return typeof body === "object" && body !== null ? [tag, body as Fields] : null;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function names(value: unknown): string[] {
  return list(value).map((item) => {
    const tagged = tagOf(item);
    if (tagged?.[0] === "String") return String(tagged[1].sval ?? "");
    if (tagged?.[0] === "A_Star") return "*";
    return refuse(`unsupported SQL construct: ${tagged?.[0] ?? "name"}`);
  });
}

export function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/**
 * A select-list value that is a column as such, so masking its output column hides exactly that value. Not a
 * cast: `ssn::int` would put the value into PostgreSQL's error message ("invalid input syntax ... 123-45-6789"),
 * which no masking sees.
 */
export function isDirectColumn(val: unknown): boolean {
  const tagged = tagOf(val);
  if (!tagged) return false;
  if (tagged[0] === "ColumnRef") return true;
  if (tagged[0] === "CollateClause") return isDirectColumn(tagged[1].arg);
  return tagged[0] === "SubLink" && tagged[1].subLinkType === "EXPR_SUBLINK";
}

/** The name PostgreSQL gives an unnamed select-list value, where it is certain; null means "?column?" or unsure. */
export function outputName(val: unknown): string | null {
  const tagged = tagOf(val);
  if (!tagged) return null;
  const [tag, body] = tagged;
  if (tag === "ColumnRef") return names(body.fields).pop() ?? null;
  if (tag === "TypeCast" || tag === "CollateClause") return outputName(body.arg);
  if (tag === "FuncCall") return names(body.funcname).pop() ?? null;
  return null;
}

/** OPERATOR(schema.op) can name a user-defined operator, which runs a user function. */
export function checkOperator(value: unknown): void {
  const parts = names(value);
  if (parts.length > 1 && parts[0] !== "pg_catalog")
    refuse(`operator ${parts.join(".")} is not allowed: only built-in operators may be schema-qualified`);
}

export function statementWord(tag: string | undefined): string {
  const words: Record<string, string> = {
    InsertStmt: "INSERT",
    UpdateStmt: "UPDATE",
    DeleteStmt: "DELETE",
    MergeStmt: "MERGE",
    SelectStmt: "SELECT",
  };
  return (tag && words[tag]) ?? (tag ?? "unknown").replace(/Stmt$/, "");
}
