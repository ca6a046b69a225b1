// Name scopes for the SQL checker: which CTEs a name can mean, which FROM items a column can come from, and
// which denied columns a column reference can reach. Without the database catalog we cannot know a table's
// columns, so resolution over-approximates: an unqualified column is checked against every FROM item in
// reach, and a whole-row reference or `*` reaches every denied column of its table. CTE names, on the other
// hand, are resolved exactly, because a CTE wrongly thought to be in scope would hide a real table.
import type { CompiledPgPolicy, QualifiedName } from "./sql-policy.ts";

/** A refusal with a reason written for the person who sent the query. */
export class PolicyRefusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "PolicyRefusal";
  }
}

export function refuse(reason: string): never {
  throw new PolicyRefusal(reason);
}

export interface OutputColumn {
  name: string | null;
  /** Carries a denied column (mask mode only; in refuse mode such a query never gets this far). */
  tainted: boolean;
}

/** What a SELECT produces: its columns when known (a `*` makes positions unknown) and the masked names. */
export interface Output {
  columns: OutputColumn[] | null;
  tainted: Set<string>;
}

export const EMPTY_OUTPUT: Output = { columns: null, tainted: new Set() };

export type Relation =
  | { kind: "table"; refname: string; table: QualifiedName; denied: Map<string, string> }
  | { kind: "derived"; refname: string; output: Output }
  | { kind: "join"; refname: string; members: Relation[] }
  | { kind: "function"; refname: string };

export interface Cte {
  /** null while a recursive CTE is still being worked out (its self-reference). */
  output: Output | null;
}

export interface Scope {
  ctes: Map<string, Cte>;
  relations: Relation[];
  parent: Scope | null;
}

export function childScope(parent: Scope | null): Scope {
  return { ctes: new Map(), relations: [], parent };
}

export function findCte(scope: Scope | null, name: string): Cte | undefined {
  for (let s = scope; s; s = s.parent) {
    const cte = s.ctes.get(name);
    if (cte) return cte;
  }
  return undefined;
}

export interface Hit {
  label: string;
  /** A whole-row reference (`t`, `t.*` inside an expression): never maskable. */
  wholeRow: boolean;
}

function columnHit(rel: Relation, column: string): string[] {
  const col = column.toLowerCase();
  switch (rel.kind) {
    case "table": {
      const label = rel.denied.get(col);
      return label ? [label] : [];
    }
    case "derived":
      return rel.output.tainted.has(column) ? [`${rel.refname}.${column}`] : [];
    case "join":
      return rel.members.flatMap((m) => columnHit(m, column));
    case "function":
      return [];
  }
}

/** Every denied column a whole-row reference to `rel` would carry. */
export function wholeRowHits(rel: Relation): string[] {
  switch (rel.kind) {
    case "table":
      return [...rel.denied.values()];
    case "derived":
      return [...rel.output.tainted].map((c) => `${rel.refname}.${c}`);
    case "join":
      return rel.members.flatMap(wholeRowHits);
    case "function":
      return [];
  }
}

function matches(rel: Relation, qualifier: string, schema: string | undefined): boolean {
  if (rel.refname !== qualifier) return false;
  return schema === undefined || (rel.kind === "table" && rel.table.schema === schema);
}

/** The denied columns a ColumnRef (fields as names, "*" for a star) can reach. */
export function columnRefHits(fields: string[], scope: Scope, policy: CompiledPgPolicy): Hit[] {
  const column = fields[fields.length - 1] ?? "";
  const hits: Hit[] = [];
  const add = (labels: string[], wholeRow: boolean) => {
    for (const label of labels) hits.push({ label, wholeRow });
  };
  if (fields.length === 1) {
    for (let s: Scope | null = scope; s; s = s.parent) {
      for (const rel of s.relations) {
        add(columnHit(rel, column), false);
        // `SELECT t FROM t` is the whole row when t has no column named t; assume it may be.
        if (rel.refname === column) add(wholeRowHits(rel), true);
      }
    }
    if (policy.bareDenied(column)) add([column], false);
    return hits;
  }
  const qualifier = fields[fields.length - 2] ?? "";
  const schema = fields.length >= 3 ? fields[fields.length - 3] : undefined;
  for (let s: Scope | null = scope; s; s = s.parent) {
    const found = s.relations.filter((rel) => matches(rel, qualifier, schema));
    if (found.length === 0) continue;
    for (const rel of found) {
      if (column === "*") add(wholeRowHits(rel), true);
      else add(columnHit(rel, column), false);
    }
    return hits;
  }
  // The qualifier names no FROM item: PostgreSQL will refuse it, but check the deny rules by name anyway.
  const label = column === "*" ? null : policy.deniedByTableName(qualifier, column);
  if (label) add([label], false);
  return hits;
}

/** Renames a derived relation's columns by an alias column list, `(SELECT ...) AS s(a, b)`. */
export function renameOutput(output: Output, colnames: string[], mask: boolean): Output {
  if (colnames.length === 0) return output;
  if (!output.columns) {
    if (output.tainted.size > 0 && mask)
      refuse(
        `cannot tell which renamed column carries the masked ${[...output.tainted][0]}; list the columns instead of *`,
      );
    return EMPTY_OUTPUT;
  }
  const columns = output.columns.map((c, i) => ({ name: colnames[i] ?? c.name, tainted: c.tainted }));
  return { columns, tainted: taintedNames(columns) };
}

export function taintedNames(columns: OutputColumn[]): Set<string> {
  const names = new Set<string>();
  for (const c of columns) {
    if (!c.tainted) continue;
    if (c.name === null) refuse("name every column that carries a masked value with AS, so it can be masked");
    names.add(c.name);
  }
  return names;
}

/** UNION / INTERSECT / EXCEPT: names come from the left arm, masking from either arm position by position. */
export function mergeSetOperation(left: Output, right: Output): Output {
  if (right.tainted.size === 0) return left;
  if (!left.columns || !right.columns || left.columns.length !== right.columns.length)
    refuse(
      `cannot tell which output column of the set operation carries the masked ${[...right.tainted][0]}; list the columns instead of *`,
    );
  const rightColumns = right.columns;
  const columns = left.columns.map((c, i) => ({
    name: c.name,
    tainted: c.tainted || (rightColumns[i]?.tainted ?? false),
  }));
  return { columns, tainted: taintedNames(columns) };
}

export function sameOutput(a: Output | null, b: Output): boolean {
  if (!a) return b.tainted.size === 0;
  return a.tainted.size === b.tainted.size && [...a.tainted].every((n) => b.tainted.has(n));
}
