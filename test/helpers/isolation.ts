// The SOC 2 isolation evidence, driven by the catalog: every table with a workspace_id is found, seeded
// generically (src/security/canary.ts) and probed as the runtime role through the tenant door.
import type { Engine } from "../../src/db/engine.ts";
import { APP_ROLE, withTenant, withoutTenant } from "../../src/db/tenant.ts";
import { columnsOf, ident, seedEveryTenantTableIn } from "../../src/security/canary.ts";

export { tenantTables } from "../../src/security/canary.ts";

const UNKNOWN_WORKSPACE = `ws_${"0".repeat(26)}`;
/** SQLSTATE of both "permission denied" and "new row violates row-level security policy". */
const INSUFFICIENT_PRIVILEGE = "42501";

/** Inserts a row into every tenant table for the workspace that has none yet, in one owner transaction. */
export async function seedEveryTenantTable(owner: Engine, workspaceId: string): Promise<void> {
  await owner.transaction((tx) => seedEveryTenantTableIn(tx, workspaceId));
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
