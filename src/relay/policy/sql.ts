// The PostgreSQL policy engine: one statement, parsed by the real parser, checked against the policy.
// Fail closed: a parse error, an unknown node type or any error while checking refuses the query.
import { createHash } from "node:crypto";
import { normalizeSql, type ParseTree, parseSql, SqlSyntaxError } from "./parser.ts";
import { PolicyRefusal, refuse } from "./sql-scope.ts";
import { CompiledPgPolicy, type PgPolicy } from "./sql-policy.ts";
import { statementWord, tagOf } from "./sql-nodes.ts";
import { SelectChecker } from "./sql-walk.ts";

export { type PgPolicy, validatePgPolicy } from "./sql-policy.ts";

export type SqlVerdict =
  | {
      ok: true;
      kind: "select" | "explain";
      /** Tables read, schema-qualified. */
      tables: string[];
      /** Output columns that carry a denied column (mask mode); they must be redacted. */
      forcedMask: string[];
      normalized: string;
      fingerprint: string;
    }
  | {
      ok: false;
      /** "parse": PostgreSQL's parser rejected the text; "policy": it parsed but is not allowed. */
      code: "parse" | "policy";
      reason: string;
      normalized: string | null;
      fingerprint: string | null;
    };

/** EXPLAIN options that only change what the plan shows; ANALYZE (runs the query) is handled apart. */
const EXPLAIN_OPTIONS = new Set([
  "verbose",
  "costs",
  "settings",
  "buffers",
  "wal",
  "timing",
  "summary",
  "format",
  "generic_plan",
  "memory",
]);

const OTHER_STATEMENTS: Record<string, string> = {
  CopyStmt: "COPY",
  VariableShowStmt: "SHOW",
  CallStmt: "CALL",
  DoStmt: "DO",
  LockStmt: "LOCK",
  TruncateStmt: "TRUNCATE",
  TransactionStmt: "transaction control (BEGIN, COMMIT, ROLLBACK …)",
  NotifyStmt: "NOTIFY",
  ListenStmt: "LISTEN",
  UnlistenStmt: "UNLISTEN",
  PrepareStmt: "PREPARE",
  ExecuteStmt: "EXECUTE",
  DeallocateStmt: "DEALLOCATE",
  DeclareCursorStmt: "DECLARE CURSOR",
  FetchStmt: "FETCH",
  CreateTableAsStmt: "CREATE TABLE AS",
  CreateStmt: "CREATE TABLE",
  DropStmt: "DROP",
  AlterTableStmt: "ALTER TABLE",
  GrantStmt: "GRANT",
  VacuumStmt: "VACUUM / ANALYZE",
};

function describeStatement(tag: string, body: Record<string, unknown>): string {
  if (tag === "VariableSetStmt") {
    if (String(body.kind ?? "").startsWith("VAR_RESET")) return "RESET";
    return body.is_local ? "SET LOCAL" : "SET";
  }
  return OTHER_STATEMENTS[tag] ?? statementWord(tag);
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function checkExplain(body: Record<string, unknown>, policy: CompiledPgPolicy, checker: SelectChecker): void {
  if (!policy.explain) refuse("EXPLAIN is turned off by the policy");
  for (const option of Array.isArray(body.options) ? body.options : []) {
    const def = tagOf(option)?.[1] ?? {};
    const name = String(def.defname ?? "");
    if (name === "analyze") {
      const arg = tagOf(def.arg);
      const value = arg ? String(arg[1].sval ?? arg[1].boolval ?? "").toLowerCase() : "true";
      if (!["false", "off", "0"].includes(value))
        refuse("EXPLAIN ANALYZE runs the statement; use EXPLAIN without ANALYZE");
      continue;
    }
    if (!EXPLAIN_OPTIONS.has(name)) refuse(`EXPLAIN option ${name.toUpperCase()} is not supported`);
  }
  const inner = tagOf(body.query);
  if (inner?.[0] !== "SelectStmt")
    refuse(`EXPLAIN ${describeStatement(inner?.[0] ?? "", inner?.[1] ?? {})} is not allowed; only EXPLAIN SELECT`);
  checker.select(inner[1], null);
}

function checkTree(
  tree: ParseTree,
  policy: CompiledPgPolicy,
): { kind: "select" | "explain"; tables: string[]; forcedMask: string[] } {
  const stmts = tree.stmts ?? [];
  if (stmts.length === 0) refuse("empty query: the text has only comments or whitespace; send one SELECT statement");
  if (stmts.length > 1) refuse(`only one statement is allowed; this text has ${stmts.length}`);
  const tagged = tagOf(stmts[0]?.stmt);
  if (!tagged) refuse("empty query: send one SELECT statement");
  const [tag, body] = tagged;
  const checker = new SelectChecker(policy);
  if (tag === "SelectStmt") {
    const out = checker.select(body, null);
    return { kind: "select", tables: [...checker.tables].sort(), forcedMask: [...out.tainted].sort() };
  }
  if (tag === "ExplainStmt") {
    checkExplain(body, policy, checker);
    return { kind: "explain", tables: [...checker.tables].sort(), forcedMask: [] };
  }
  return refuse(
    `${describeStatement(tag, body)} is not allowed: only SELECT (and EXPLAIN without ANALYZE) can run through the relay`,
  );
}

/** Parses one statement and checks it against the policy; never throws, every failure is a refusal. */
export async function checkSql(sql: string, policy: PgPolicy): Promise<SqlVerdict> {
  if (sql.trim() === "")
    return {
      ok: false,
      code: "policy",
      reason: "empty query: send one SELECT statement",
      normalized: null,
      fingerprint: null,
    };
  // The parser reads C strings: a NUL would hide everything after it from the check.
  if (sql.includes("\u0000"))
    return {
      ok: false,
      code: "parse",
      reason: "the query contains a NUL character",
      normalized: null,
      fingerprint: null,
    };
  let tree: ParseTree;
  try {
    tree = await parseSql(sql);
  } catch (error) {
    const reason =
      error instanceof SqlSyntaxError
        ? `could not parse: ${error.message} at position ${error.position}`
        : "could not parse: the SQL parser failed on this text";
    return { ok: false, code: "parse", reason, normalized: null, fingerprint: null };
  }
  const normalized = await normalizeSql(sql).catch(() => null);
  const fingerprint = normalized === null ? null : hash(normalized);
  try {
    const result = checkTree(tree, new CompiledPgPolicy(policy));
    if (normalized === null || fingerprint === null) refuse("could not normalize the statement for the audit trail");
    return { ok: true, ...result, normalized, fingerprint };
  } catch (error) {
    // Anything but a deliberate refusal (a stack overflow on absurd nesting, a shape we did not expect) still refuses.
    const reason =
      error instanceof PolicyRefusal ? error.reason : "the query could not be checked safely, so it was refused";
    return { ok: false, code: "policy", reason, normalized, fingerprint };
  }
}
