// Walks one SELECT's parse tree and applies the policy: tables, functions, columns. Every node type it meets
// must be one it knows; anything else is refused as unsupported, so a construct added to PostgreSQL's grammar
// later is refused until someone has looked at it.
import { functionAllowed } from "./functions.ts";
import {
  checkOperator,
  type Fields,
  isDirectColumn,
  isEmptyObject,
  LEAVES,
  list,
  names,
  OUTPUT_REFERENCING,
  outputName,
  PASS_THROUGH,
  SELECT_KEYS,
  statementWord,
  tagOf,
  UNTAGGED,
} from "./sql-nodes.ts";
import { resolveRangeVar } from "./sql-tables.ts";
import {
  childScope,
  columnRefHits,
  type Hit,
  mergeSetOperation,
  type Output,
  type OutputColumn,
  refuse,
  type Relation,
  renameOutput,
  type Scope,
  sameOutput,
  taintedNames,
  wholeRowHits,
} from "./sql-scope.ts";
import type { CompiledPgPolicy } from "./sql-policy.ts";

type Sink = (hit: Hit) => void;

export class SelectChecker {
  readonly tables = new Set<string>();

  constructor(readonly policy: CompiledPgPolicy) {}

  /** Checks a SelectStmt body; returns its output (with masked columns in mask mode). */
  select(stmt: Fields, parent: Scope | null): Output {
    for (const key of Object.keys(stmt)) if (!SELECT_KEYS.has(key)) refuse(`unsupported SQL construct: SELECT ${key}`);
    if (stmt.intoClause) refuse("SELECT … INTO creates a table; only reading is allowed");
    if (list(stmt.lockingClause).length > 0)
      refuse("FOR UPDATE / FOR SHARE lock rows; only plain reads are allowed (remove the locking clause)");
    const scope = childScope(parent);
    if (stmt.withClause) this.withClause(stmt.withClause as Fields, scope);
    if (stmt.op !== undefined && stmt.op !== "SETOP_NONE") {
      const left = this.select((stmt.larg ?? {}) as Fields, scope);
      const right = this.select((stmt.rarg ?? {}) as Fields, scope);
      const out = mergeSetOperation(left, right);
      this.clauses(stmt, scope, out);
      return out;
    }
    for (const item of list(stmt.fromClause)) scope.relations.push(this.fromItem(item, scope));
    let out: Output;
    if (stmt.valuesLists) {
      const rows = list(stmt.valuesLists);
      for (const row of rows) this.expr(row, scope, this.refuseSink);
      const width = list(tagOf(rows[0])?.[1].items).length;
      out = {
        columns: Array.from({ length: width }, (_, i) => ({ name: `column${i + 1}`, tainted: false })),
        tainted: new Set(),
      };
    } else {
      out = this.targets(list(stmt.targetList), scope);
    }
    this.clauses(stmt, scope, out);
    return out;
  }

  /** WHERE, GROUP BY, HAVING, WINDOW, ORDER BY, DISTINCT ON, LIMIT/OFFSET: denied columns are never usable here. */
  private clauses(stmt: Fields, scope: Scope, out: Output): void {
    for (const key of [
      "whereClause",
      "groupClause",
      "havingClause",
      "windowClause",
      "sortClause",
      "distinctClause",
      "limitOffset",
      "limitCount",
    ]) {
      const value = stmt[key];
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (isEmptyObject(item)) continue; // plain DISTINCT is `[{}]`
        if (out.tainted.size > 0 && OUTPUT_REFERENCING.has(key)) this.outputReference(item, out);
        this.expr(item, scope, this.refuseSink);
      }
    }
  }

  /** ORDER BY / GROUP BY may name an output column (`ORDER BY x`, `ORDER BY 1`); a masked one may not be used. */
  private outputReference(item: unknown, out: Output): void {
    const tagged = tagOf(item);
    const inner = tagged?.[0] === "SortBy" ? tagOf(tagged[1].node) : tagged;
    if (!inner) return;
    if (inner[0] === "ColumnRef") {
      const fields = names(inner[1].fields);
      const name = fields[0];
      if (fields.length === 1 && name !== undefined && out.tainted.has(name))
        refuse(`${name} is masked by the policy; it cannot be used to sort, group or filter`);
    }
    const ival = inner[0] === "A_Const" ? (inner[1].ival as Fields | undefined) : undefined;
    if (ival) {
      const position = Number(ival.ival ?? 0);
      const column = out.columns?.[position - 1];
      if (!out.columns || column?.tainted)
        refuse(`output column ${position} is masked by the policy; it cannot be used to sort, group or filter`);
    }
  }

  private withClause(clause: Fields, scope: Scope): void {
    const ctes = list(clause.ctes).map((node) => {
      const tagged = tagOf(node);
      if (tagged?.[0] !== "CommonTableExpr") refuse(`unsupported SQL construct: ${tagged?.[0] ?? "WITH item"}`);
      return tagged[1];
    });
    if (!clause.recursive) {
      // Each CTE sees only the ones before it; its own name inside its body is a real table.
      for (const cte of ctes) scope.ctes.set(String(cte.ctename), { output: this.cte(cte, scope) });
      return;
    }
    const entries = ctes.map((cte) => {
      const entry = { output: null as Output | null };
      scope.ctes.set(String(cte.ctename), entry);
      return { cte, entry };
    });
    // A recursive CTE can move a masked value between columns on each round: iterate until nothing changes.
    for (let round = 0; round < 8; round++) {
      let changed = false;
      for (const { cte, entry } of entries) {
        const out = this.cte(cte, scope);
        if (!sameOutput(entry.output, out)) changed = true;
        entry.output = out;
      }
      if (!changed) return;
    }
    refuse("this recursive WITH is too involved to check which columns carry masked values");
  }

  private cte(cte: Fields, scope: Scope): Output {
    const query = tagOf(cte.ctequery);
    const name = String(cte.ctename);
    if (query?.[0] !== "SelectStmt")
      refuse(`WITH ${name} AS (${statementWord(query?.[0])}) changes data; only SELECT is allowed inside WITH`);
    for (const key of ["search_clause", "cycle_clause"]) if (cte[key]) this.expr(cte[key], scope, this.refuseSink);
    const out = this.select(query[1], scope);
    return renameOutput(out, names(cte.aliascolnames), this.policy.maskDenied);
  }

  private fromItem(node: unknown, scope: Scope): Relation {
    const tagged = tagOf(node);
    if (!tagged) return refuse("unsupported SQL construct in FROM");
    const [tag, body] = tagged;
    const alias = body.alias as Fields | undefined;
    const aliasColumns = names(alias?.colnames);
    switch (tag) {
      case "RangeVar":
        return resolveRangeVar(body, scope, this.policy, this.tables);
      case "RangeSubselect": {
        const sub = tagOf(body.subquery);
        if (sub?.[0] !== "SelectStmt") return refuse("unsupported SQL construct in FROM: subquery");
        const out = renameOutput(this.select(sub[1], scope), aliasColumns, this.policy.maskDenied);
        return { kind: "derived", refname: String(alias?.aliasname ?? ""), output: out };
      }
      case "JoinExpr":
        return this.join(body, scope);
      case "RangeFunction": {
        // Set-returning functions (also ROWS FROM): the call must pass the function allowlist.
        for (const item of list(body.functions)) this.expr(item, scope, this.refuseSink);
        for (const def of list(body.coldeflist)) this.expr(def, scope, this.refuseSink);
        return { kind: "function", refname: String(alias?.aliasname ?? "") };
      }
      case "RangeTableSample": {
        const method = names(body.method);
        if (!functionAllowed(method, this.policy.extraFunctions))
          refuse(`TABLESAMPLE method ${method.join(".")} is not allowed by the policy`);
        this.expr(body.args, scope, this.refuseSink);
        if (body.repeatable) this.expr(body.repeatable, scope, this.refuseSink);
        return this.fromItem(body.relation, scope);
      }
      default:
        return refuse(`unsupported SQL construct in FROM: ${tag}`);
    }
  }

  private join(body: Fields, scope: Scope): Relation {
    const left = this.fromItem(body.larg, scope);
    scope.relations.push(left);
    const right = this.fromItem(body.rarg, scope);
    scope.relations.push(right);
    const members = [left, right];
    if (body.isNatural && members.some((m) => wholeRowHits(m).length > 0 || this.policy.hasColumnRules))
      refuse("NATURAL JOIN may compare columns the policy denies; use JOIN … ON with the columns you need");
    for (const column of names(body.usingClause))
      this.expr({ ColumnRef: { fields: [{ String: { sval: column } }] } }, scope, this.refuseSink);
    if (body.quals) this.expr(body.quals, scope, this.refuseSink);
    const alias = (body.alias ?? body.join_using_alias) as Fields | undefined;
    return { kind: "join", refname: String(alias?.aliasname ?? ""), members };
  }

  private targets(items: unknown[], scope: Scope): Output {
    const columns: OutputColumn[] = [];
    const starTainted = new Set<string>();
    let star = false;
    for (const item of items) {
      const target = tagOf(item);
      if (target?.[0] !== "ResTarget") refuse("unsupported SQL construct in the select list");
      const val = target[1].val;
      const ref = tagOf(val);
      const fields = ref?.[0] === "ColumnRef" ? names(ref[1].fields) : [];
      if (fields[fields.length - 1] === "*") {
        star = true;
        for (const label of this.starHits(fields, scope)) starTainted.add(label.slice(label.lastIndexOf(".") + 1));
        continue;
      }
      const name = (target[1].name as string | undefined) ?? outputName(val);
      if (!this.policy.maskDenied || !isDirectColumn(val)) {
        this.expr(val, scope, this.refuseSink);
        columns.push({ name, tainted: false });
        continue;
      }
      const hits: Hit[] = [];
      this.expr(val, scope, (hit) => (hit.wholeRow ? this.refuseSink(hit) : hits.push(hit)));
      columns.push({ name, tainted: hits.length > 0 });
    }
    const tainted = taintedNames(columns);
    for (const n of starTainted) tainted.add(n);
    return { columns: star ? null : columns, tainted };
  }

  /** `*` or `t.*` in the select list: refused over denied columns, or (mask mode) their names are masked. */
  private starHits(fields: string[], scope: Scope): string[] {
    const hits =
      fields.length === 1
        ? scope.relations.flatMap(wholeRowHits)
        : columnRefHits(fields, scope, this.policy).map((h) => h.label);
    const first = hits[0];
    if (first !== undefined && !this.policy.maskDenied) refuse(`list the columns you need; ${first} is not allowed`);
    return hits;
  }

  private readonly refuseSink: Sink = (hit) => {
    if (hit.wholeRow)
      refuse(
        `list the columns you need; ${hit.label} is ${this.policy.maskDenied ? "masked and cannot be read as part of a whole row" : "not allowed"}`,
      );
    if (this.policy.maskDenied)
      refuse(
        `${hit.label} is masked by the policy; select it as a plain column (not inside an expression, WHERE, JOIN, GROUP BY or ORDER BY)`,
      );
    refuse(`${hit.label} is not allowed by the policy`);
  };

  /** Walks an expression (or list of them), checking functions, operators, parameters and column references. */
  expr(node: unknown, scope: Scope, sink: Sink): void {
    if (Array.isArray(node)) {
      for (const item of node) this.expr(item, scope, sink);
      return;
    }
    if (node === null || typeof node !== "object" || isEmptyObject(node)) return;
    const tagged = tagOf(node);
    if (!tagged) return refuse("unsupported SQL construct in an expression");
    const [tag, body] = tagged;
    if (LEAVES.has(tag)) return;
    switch (tag) {
      case "ColumnRef":
        for (const hit of columnRefHits(names(body.fields), scope, this.policy)) sink(hit);
        return;
      case "ParamRef":
        return refuse("query parameters ($1, $2, …) are not supported; write the values into the SQL");
      case "FuncCall": {
        const name = names(body.funcname);
        if (!functionAllowed(name, this.policy.extraFunctions))
          refuse(`function ${name.join(".")}() is not allowed by the policy`);
        return this.fields(tag, body, scope, sink, ["funcname"]);
      }
      case "SortBy":
        checkOperator(body.useOp);
        return this.fields(tag, body, scope, sink, ["useOp"]);
      case "A_Expr":
        checkOperator(body.name);
        return this.fields(tag, body, scope, sink, ["name"]);
      case "SubLink": {
        checkOperator(body.operName);
        const sub = tagOf(body.subselect);
        if (sub?.[0] !== "SelectStmt") return refuse("unsupported SQL construct: subquery");
        const out = this.select(sub[1], scope);
        const first = [...out.tainted][0];
        if (first !== undefined) sink({ label: first, wholeRow: false });
        return this.fields(tag, body, scope, sink, ["operName", "subselect"]);
      }
      default:
        if (!PASS_THROUGH.has(tag)) refuse(`unsupported SQL construct: ${tag}`);
        return this.fields(tag, body, scope, sink, []);
    }
  }

  private fields(tag: string, body: Fields, scope: Scope, sink: Sink, skip: string[]): void {
    for (const [key, value] of Object.entries(body)) {
      if (skip.includes(key) || value === null || typeof value !== "object") continue;
      if (Array.isArray(value) || isEmptyObject(value) || tagOf(value)) {
        this.expr(value, scope, sink);
        continue;
      }
      const type = UNTAGGED[key];
      if (!type) refuse(`unsupported SQL construct: ${tag}.${key}`);
      this.expr({ [type]: value }, scope, sink);
    }
  }
}
