// Forward-only migrations from db/migrations (embedded in the binary), recorded in schema_migrations.
import { migrations as embedded, referenceSql, type MigrationSource } from "../../db/migrations/index.ts";
import { AppError } from "../errors.ts";
import type { Engine, Queryable } from "./engine.ts";
import { appendOperatorLog, operatorIdentity } from "../audit/operator-log.ts";

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  name        text PRIMARY KEY,
  sha256      text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL,
  applied_by  text NOT NULL DEFAULT current_user
)`;

/** Session-level advisory lock key serializing concurrent `migrate` runs (hash of 'causeloop.migrate'). */
const MIGRATE_LOCK_KEY = 7_216_553_902_114_001;
const NO_TRANSACTION_MARKER = "-- causeloop:no-transaction";

export interface MigrationStatus {
  name: string;
  sha256: string;
  state: "applied" | "pending" | "changed" | "missing";
  appliedAt?: string;
  durationMs?: number;
  appliedSha256?: string;
}

export interface MigrateResult {
  applied: { name: string; durationMs: number }[];
  alreadyApplied: number;
}

export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

interface LedgerRow extends Record<string, unknown> {
  name: string;
  sha256: string;
  applied_at: Date;
  duration_ms: number;
}

async function readLedger(db: Queryable): Promise<LedgerRow[] | undefined> {
  const exists = await db.query<{ t: string | null }>("select to_regclass('schema_migrations')::text as t");
  if (!exists[0]?.t) return undefined;
  return db.query<LedgerRow>("select name, sha256, applied_at, duration_ms from schema_migrations order by name");
}

/** Every migration known to the binary or the ledger, with its state. */
export async function migrationStatus(
  db: Queryable,
  sources: MigrationSource[] = embedded,
): Promise<MigrationStatus[]> {
  const ledger = (await readLedger(db)) ?? [];
  const applied = new Map(ledger.map((row) => [row.name, row]));
  const out: MigrationStatus[] = sources.map((m) => {
    const sha = sha256Hex(m.sql);
    const row = applied.get(m.name);
    if (!row) return { name: m.name, sha256: sha, state: "pending" };
    return {
      name: m.name,
      sha256: sha,
      state: row.sha256 === sha ? "applied" : "changed",
      appliedAt: new Date(row.applied_at).toISOString(),
      durationMs: row.duration_ms,
      appliedSha256: row.sha256,
    };
  });
  const known = new Set(sources.map((m) => m.name));
  for (const row of ledger) {
    if (!known.has(row.name)) {
      out.push({
        name: row.name,
        sha256: row.sha256,
        state: "missing",
        appliedAt: new Date(row.applied_at).toISOString(),
        appliedSha256: row.sha256,
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export function assertNoDrift(status: MigrationStatus[]): void {
  const changed = status.find((s) => s.state === "changed");
  if (changed) {
    throw new AppError(
      "migration_drift",
      `applied migration ${changed.name} was changed after it was applied (sha256 ${changed.appliedSha256?.slice(0, 12)} in the ledger, ${changed.sha256.slice(0, 12)} on disk); migrations are forward-only: restore the file and add a new migration`,
    );
  }
  const missing = status.find((s) => s.state === "missing");
  if (missing) {
    throw new AppError(
      "migration_drift",
      `applied migration ${missing.name} is missing from this binary; is it older than the database?`,
    );
  }
}

/** Splits a no-transaction migration into statements: one per line that ends with ';'. */
function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of sql.split("\n")) {
    current.push(line);
    if (line.trimEnd().endsWith(";")) {
      const text = current.join("\n").trim();
      if (text.replace(/--.*$/gm, "").trim()) out.push(text);
      current = [];
    }
  }
  const rest = current.join("\n").replace(/--.*$/gm, "").trim();
  if (rest) out.push(rest);
  return out;
}

export interface MigrateOptions {
  sources?: MigrationSource[];
  onProgress?: (event: { name: string; index: number; total: number; phase: "start" | "done" }) => void;
  /** Recorded in the operator log with each migration applied (default: the process's operator identity). */
  actor?: string;
}

/** Applies every pending migration, each in its own transaction, then upserts the reference data. */
export async function migrate(engine: Engine, options: MigrateOptions = {}): Promise<MigrateResult> {
  const sources = options.sources ?? embedded;
  return engine.session(async (conn) => {
    await conn.query("select pg_advisory_lock($1)", [MIGRATE_LOCK_KEY]);
    try {
      await conn.exec(LEDGER_DDL);
      const status = await migrationStatus(conn, sources);
      assertNoDrift(status);
      const pending = status.filter((s) => s.state === "pending");
      const applied: MigrateResult["applied"] = [];
      for (const [index, item] of pending.entries()) {
        const source = sources.find((m) => m.name === item.name);
        if (!source) continue;
        options.onProgress?.({ name: item.name, index, total: pending.length, phase: "start" });
        const started = performance.now();
        const record = async (db: Queryable, durationMs: number) => {
          await db.query("insert into schema_migrations (name, sha256, duration_ms) values ($1, $2, $3)", [
            item.name,
            item.sha256,
            durationMs,
          ]);
          await appendOperatorLog(db, {
            action: "migration.applied",
            actor: options.actor ?? operatorIdentity(),
            targetType: "migration",
            targetId: item.name,
            after: { sha256: item.sha256, duration_ms: durationMs },
          });
        };
        try {
          if (source.sql.startsWith(NO_TRANSACTION_MARKER)) {
            for (const statement of splitStatements(source.sql)) await conn.exec(statement);
            await record(conn, Math.round(performance.now() - started));
          } else {
            await conn.transaction(async (tx) => {
              await tx.exec(source.sql);
              await record(tx, Math.round(performance.now() - started));
            });
          }
        } catch (error) {
          throw new AppError("migration_failed", `migration ${item.name} failed: ${(error as Error).message}`);
        }
        const durationMs = Math.round(performance.now() - started);
        applied.push({ name: item.name, durationMs });
        options.onProgress?.({ name: item.name, index, total: pending.length, phase: "done" });
      }
      await conn.exec(referenceSql);
      await conn.exec("GRANT SELECT ON schema_migrations TO causeloop_app");
      return { applied, alreadyApplied: status.filter((s) => s.state === "applied").length };
    } finally {
      await conn.query("select pg_advisory_unlock($1)", [MIGRATE_LOCK_KEY]).catch(() => {});
    }
  });
}

/** True when every migration of this binary is applied and none changed. */
export async function schemaIsCurrent(
  db: Queryable,
): Promise<{ current: boolean; pending: string[]; problems: string[] }> {
  const status = await migrationStatus(db);
  return {
    current: status.every((s) => s.state === "applied"),
    pending: status.filter((s) => s.state === "pending").map((s) => s.name),
    problems: status.filter((s) => s.state === "changed" || s.state === "missing").map((s) => `${s.name} ${s.state}`),
  };
}
