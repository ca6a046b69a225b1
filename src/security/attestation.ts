// Continuous isolation attestation: every CAUSELOOP_ATTESTATION_INTERVAL_SECONDS (and at start) `serve` checks
// tenant isolation for real and signs the result.
//  - The catalog lint: doctor's Row-Level Security checks (every tenant table with RLS enabled and forced,
//    the four policies, the runtime role neither superuser nor BYPASSRLS, the append-only triggers).
//  - The live probe, with the owner connection: in ONE transaction that is always rolled back, two canary
//    workspaces get a row in every tenant table (./canary.ts); then, as the runtime role inside canary A,
//    each table is read, written for B, updated and deleted where B's rows are, and read with no workspace
//    set. Any of B's rows seen or touched is a violation. Nothing of it is ever committed.
// The result is signed with the audit key and appended to the operator log; a failure makes /readyz answer
// 503 naming the table (fail closed: the instance should not serve tenants' data it cannot keep apart).
import { raiseOperatorAlert, resolveOperatorAlert } from "./alerts.ts";
import type { Engine, Queryable, Tx } from "../db/engine.ts";
import { doctor } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import { appendOperatorLog } from "../audit/operator-log.ts";
import type { Signer } from "../audit/signing.ts";
import { canaryInserts, columnsOf, ident, seedEveryTenantTableIn, tenantTables } from "./canary.ts";
import type { Logger } from "../log.ts";
import type { ReadinessCheck } from "../health/routes.ts";

export interface Attestation {
  ok: boolean;
  at: string;
  /** Failing catalog checks, as "check: detail". */
  lint: string[];
  /** Live-probe violations, as "table: what happened". */
  violations: string[];
  /** Tenant tables the live probe covered; null when it did not run. */
  tables: number | null;
  /** Why the live probe did not run (no owner connection, or it could not seed), when it did not. */
  probe_skipped?: string;
  key_id: string;
  /** Ed25519 over attestationPayload(): the fields above, in this order. */
  signature: string;
}

const INSUFFICIENT_PRIVILEGE = "42501";
const LINTED = /^(table |tenant tables protected|runtime role |.* append-only trigger|operator_log hidden)/;

type Outcome = { ok: true; rows: number; workspaces: string[] } | { ok: false; code?: string; message: string };

/** Runs `sql` as the runtime role inside `workspace` (or none), in a savepoint that is always rolled back. */
async function asRuntime(tx: Tx, workspace: string | null, sql: string, params: unknown[] = []): Promise<Outcome> {
  await tx.query("SAVEPOINT attestation_probe");
  try {
    await tx.query(`select set_config('app.current_workspace', $1, true), set_config('role', '${APP_ROLE}', true)`, [
      workspace ?? "",
    ]);
    const rows = await tx.query<{ workspace_id?: string }>(sql, params);
    return { ok: true, rows: rows.length, workspaces: rows.map((r) => String(r.workspace_id ?? "")) };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code, message: (error as Error).message };
  } finally {
    await tx.query("ROLLBACK TO SAVEPOINT attestation_probe");
    await tx.query("RELEASE SAVEPOINT attestation_probe");
  }
}

async function probeTable(tx: Tx, table: string, a: string, b: string): Promise<string[]> {
  const t = ident(table);
  const found: string[] = [];
  const write = (what: string, outcome: Outcome) => {
    if (outcome.ok && outcome.rows > 0) found.push(`inside A, ${what} reached ${outcome.rows} of B's rows`);
    else if (!outcome.ok && outcome.code !== INSUFFICIENT_PRIVILEGE)
      found.push(`inside A, ${what} failed for another reason than isolation (${outcome.code}: ${outcome.message})`);
  };
  const read = await asRuntime(tx, a, `select workspace_id from ${t}`);
  if (!read.ok) found.push(`inside A, SELECT failed (${read.message})`);
  else {
    const ofB = read.workspaces.filter((w) => w === b).length;
    if (ofB > 0) found.push(`inside A, SELECT sees ${ofB} of B's rows`);
    if (!read.workspaces.includes(a)) found.push("inside A, A's own row is not visible");
  }
  const columns = (await columnsOf(tx, table)).map((c) => c.name);
  const source = columns.map((c) => (c === "workspace_id" ? "$1::text" : c === "id" ? "new_id('tst')" : ident(c)));
  const insert = await asRuntime(
    tx,
    a,
    `insert into ${t} (${columns.map(ident).join(", ")}) select ${source.join(", ")} from ${t} where workspace_id = $2 limit 1 returning workspace_id`,
    [b, a],
  );
  write("INSERT of a row for B", insert);
  write(
    "UPDATE",
    await asRuntime(
      tx,
      a,
      `update ${t} set workspace_id = workspace_id where workspace_id = $1 returning workspace_id`,
      [b],
    ),
  );
  write("DELETE", await asRuntime(tx, a, `delete from ${t} where workspace_id = $1 returning workspace_id`, [b]));
  const outside = await asRuntime(tx, null, `select workspace_id from ${t}`);
  if (outside.ok && outside.rows > 0) found.push(`with no workspace set, SELECT sees ${outside.rows} rows`);
  return found;
}

class RolledBack extends Error {}

/** The live probe: two canary workspaces in a transaction that is always rolled back. */
async function liveProbe(owner: Engine): Promise<{ tables: number; violations: string[] }> {
  let result: { tables: number; violations: string[] } | undefined;
  await owner
    .transaction(async (tx) => {
      const inserts = await canaryInserts(tx);
      const canary = async (label: string) => {
        const [org] = await tx.query<{ id: string }>(
          "insert into organizations (id, slug, name) values (new_id('org'), $1, $2) returning id",
          [`attestation-canary-${label}-${crypto.randomUUID().slice(0, 8)}`, `Attestation canary ${label}`],
        );
        const [ws] = await tx.query<{ id: string }>(
          "insert into workspaces (id, organization_id, slug, name) values (new_id('ws'), $1, 'canary', 'Canary') returning id",
          [org?.id],
        );
        await tx.query("insert into workspace_settings (workspace_id, id) values ($1, new_id('wss'))", [ws?.id]);
        await seedEveryTenantTableIn(tx, ws?.id as string, inserts);
        return ws?.id as string;
      };
      const a = await canary("a");
      const b = await canary("b");
      const tables = await tenantTables(tx);
      const violations: string[] = [];
      for (const table of tables) for (const v of await probeTable(tx, table, a, b)) violations.push(`${table}: ${v}`);
      result = { tables: tables.length, violations };
      throw new RolledBack();
    })
    .catch((error) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  return result as { tables: number; violations: string[] };
}

/**
 * One attestation. `catalog` is what the lint reads (the runtime connection); `owner` runs the live probe and
 * records the result (undefined on PostgreSQL without DATABASE_OWNER_URL: lint only, not recorded).
 */
const ATTESTATION_ALERT = "isolation_attestation_failed";

export async function attestIsolation(
  catalog: Engine,
  owner: (<T>(fn: (engine: Engine) => Promise<T>) => Promise<T>) | undefined,
  signer: Signer,
): Promise<Attestation> {
  const at = new Date().toISOString();
  const report = await doctor(catalog, {
    engineName: catalog.kind,
    runtimeRole: catalog.switchRoleInTransactions ? APP_ROLE : "current_user",
  });
  const lint = report.checks.filter((c) => LINTED.test(c.name) && !c.ok).map((c) => `${c.name}: ${c.detail}`);
  let violations: string[] = [];
  let tables: number | null = null;
  let skipped: string | undefined;
  if (!owner) skipped = "no owner connection (DATABASE_OWNER_URL): catalog checks only";
  else {
    try {
      ({ violations, tables } = await owner(liveProbe));
    } catch (error) {
      skipped = `the live probe could not run: ${(error as Error).message.split("\n")[0]}`;
    }
  }
  // A probe that could not run is no failure of isolation, but no live attestation either: ok reflects the
  // lint and the violations found, probe_skipped says what is missing.
  const body: Omit<Attestation, "key_id" | "signature"> = {
    ok: lint.length === 0 && violations.length === 0,
    at,
    lint,
    violations,
    tables,
    ...(skipped ? { probe_skipped: skipped } : {}),
  };
  const signature = await signer.sign(attestationPayload(body));
  const attestation: Attestation = { ...body, key_id: signer.keyId, signature };
  // The alert: raised (or counted again) while isolation fails, resolved by the next attestation that passes.
  if (attestation.ok) await resolveOperatorAlert(catalog, ATTESTATION_ALERT);
  else
    await raiseOperatorAlert(catalog, {
      rule: "isolation_attestation_failed",
      summary: `tenant isolation attestation failed: ${[...new Set([...violations, ...lint].map((v) => v.split(":")[0]))].join(", ")}`,
      details: { lint: lint.slice(0, 20), violations: violations.slice(0, 20), at },
      dedupKey: ATTESTATION_ALERT,
    });
  if (owner)
    await owner((engine) =>
      appendOperatorLog(engine, {
        action: attestation.ok ? "isolation.attested" : "isolation.attestation_failed",
        actor: "causeloop:attestation",
        actorType: "service",
        targetType: "database",
        targetId: catalog.kind,
        after: { ...attestation },
      }),
    );
  return attestation;
}

/** What the signature covers: these fields in this order (the operator log's JSONB does not keep key order). */
export function attestationPayload(a: Omit<Attestation, "key_id" | "signature">): string {
  return JSON.stringify({
    ok: a.ok,
    at: a.at,
    lint: a.lint,
    violations: a.violations,
    tables: a.tables,
    ...(a.probe_skipped ? { probe_skipped: a.probe_skipped } : {}),
  });
}

/** What `serve` keeps: the attestation on a timer, its last result, and the readiness check it gives. */
export function attestationRunner(
  catalog: Engine,
  owner: (<T>(fn: (engine: Engine) => Promise<T>) => Promise<T>) | undefined,
  signer: Signer,
  logger: Logger,
  /** --insecure-allow-bypass-rls: isolation is knowingly not enforced; a failure is reported, not blocking. */
  allowBypassRls = false,
) {
  let last: Attestation | undefined;
  let running: Promise<void> | undefined;
  const run = (): Promise<void> =>
    (running ??= (async () => {
      try {
        last = await attestIsolation(catalog, owner, signer);
        if (last.ok)
          logger.info("security.attested", { tables: last.tables, probe_skipped: last.probe_skipped ?? null });
        // Also an operator alert (attestIsolation raised it): `causeloop alerts list`, the console, /metrics.
        else
          logger.error("security.attestation_failed", {
            lint: last.lint.slice(0, 20),
            violations: last.violations.slice(0, 20),
          });
      } catch (error) {
        logger.error("security.attestation_error", { error: (error as Error).message });
      } finally {
        running = undefined;
      }
    })());
  return {
    run,
    last: () => last,
    /** Waits for an attestation in progress (shutdown). */
    settled: () => running ?? Promise.resolve(),
    readiness(): ReadinessCheck {
      if (!last) return { name: "isolation attestation", ok: true, detail: "first run in progress" };
      if (last.ok)
        return {
          name: "isolation attestation",
          ok: true,
          detail: `passed at ${last.at}${last.probe_skipped ? ` (${last.probe_skipped})` : ` (${last.tables} tables probed)`}`,
        };
      const tables = [...new Set([...last.violations, ...last.lint].map((v) => v.split(":")[0]))];
      return {
        name: "isolation attestation",
        ok: allowBypassRls,
        detail: `failed at ${last.at}: ${tables.join(", ")}: ${[...last.violations, ...last.lint].slice(0, 3).join("; ")}${allowBypassRls ? " (not blocking: --insecure-allow-bypass-rls)" : ""}`,
      };
    },
  };
}

/** doctor's view of the last attestation `serve` recorded (the runtime role reads it through a function). */
export async function lastAttestationCheck(db: Queryable): Promise<{ name: string; ok: boolean; detail: string }> {
  const name = "isolation attestation";
  let row: { created_at: Date | string; after: Attestation } | undefined;
  try {
    [row] = await db.query<{ created_at: Date | string; after: Attestation }>(
      "select created_at, after from last_isolation_attestation()",
    );
  } catch {
    return { name, ok: true, detail: "not available before migration 0029" };
  }
  if (!row) return { name, ok: true, detail: "none recorded yet: serve attests at start and on its interval" };
  const a = row.after;
  if (a.ok)
    return {
      name,
      ok: true,
      detail: `passed at ${a.at}${a.probe_skipped ? ` (${a.probe_skipped})` : ` (${a.tables} tables probed)`}`,
    };
  return { name, ok: false, detail: `FAILED at ${a.at}: ${[...a.violations, ...a.lint].slice(0, 3).join("; ")}` };
}
