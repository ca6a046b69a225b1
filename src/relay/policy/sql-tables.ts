// Resolves a table name in FROM the way PostgreSQL would, then applies the table policy. An unqualified name
// is a CTE when one of that name is in scope; otherwise a name starting with pg_ is pg_catalog's (PostgreSQL
// searches pg_catalog first), and any other name must be allowed in every schema of the search path, since
// we cannot tell which of them holds it.
import { EMPTY_OUTPUT, findCte, type Relation, refuse, renameOutput, type Scope } from "./sql-scope.ts";
import type { CompiledPgPolicy, QualifiedName } from "./sql-policy.ts";

type Fields = Record<string, unknown>;

function aliasOf(body: Fields): { name?: string; columns: string[] } {
  const alias = body.alias as { aliasname?: string; colnames?: { String?: { sval?: string } }[] } | undefined;
  return {
    name: alias?.aliasname,
    columns: (alias?.colnames ?? []).map((c) => c.String?.sval ?? ""),
  };
}

export function resolveRangeVar(body: Fields, scope: Scope, policy: CompiledPgPolicy, tables: Set<string>): Relation {
  const relname = String(body.relname ?? "");
  const schemaname = body.schemaname === undefined ? undefined : String(body.schemaname);
  const alias = aliasOf(body);
  if (body.catalogname !== undefined)
    refuse(`${body.catalogname}.${schemaname}.${relname}: cross-database names are not allowed`);
  if (schemaname === undefined) {
    const cte = findCte(scope, relname);
    if (cte) {
      const output = renameOutput(cte.output ?? EMPTY_OUTPUT, alias.columns, policy.maskDenied);
      return { kind: "derived", refname: alias.name ?? relname, output };
    }
  }
  // PostgreSQL searches pg_catalog first, but a pg_-named table of the search path is read when pg_catalog
  // has no such relation: both must pass.
  const candidates: QualifiedName[] =
    schemaname !== undefined
      ? [{ schema: schemaname, name: relname }]
      : [
          ...(relname.startsWith("pg_") ? [{ schema: "pg_catalog", name: relname }] : []),
          ...policy.searchPath.map((schema) => ({ schema, name: relname })),
        ];
  const denied = new Map<string, string>();
  for (const candidate of candidates) {
    const reason = policy.tableRefusal(candidate);
    if (reason && candidate.schema !== candidates[0]?.schema)
      refuse(
        `${relname} could also mean ${candidate.schema}.${relname}, and ${reason}; qualify the name (${candidates[0]?.schema}.${relname})`,
      );
    if (reason) refuse(reason);
    for (const [column, label] of policy.deniedColumns(candidate)) denied.set(column, label);
  }
  const table = candidates[0] ?? { schema: "public", name: relname };
  tables.add(`${table.schema}.${table.name}`);
  // `FROM users AS u(a, b, c)` renames columns by position: without the catalog we cannot tell which is which.
  if (alias.columns.length > 0 && denied.size > 0)
    refuse(
      `column aliases on ${table.schema}.${table.name} hide which columns are read; remove the column list from the alias`,
    );
  return { kind: "table", refname: alias.name ?? relname, table, denied };
}
