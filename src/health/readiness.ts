// The readiness probe used by /readyz: cheap catalog queries, no tenant data, on the engine's own probe
// connection and within a deadline, so /readyz answers quickly even when the pool is busy or the database hangs.
import type { Engine } from "../db/engine.ts";
import { schemaIsCurrent } from "../db/migrate.ts";
import { checkRole } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import type { ReadinessCheck, ReadinessProbe } from "./routes.ts";

/** /readyz must answer within a second: the checks get a little less, the rest is the HTTP round trip. */
export const READINESS_DEADLINE_MS = 800;

export function engineReadiness(
  engine: Engine,
  options: { allowBypassRls: boolean; deadlineMs?: number },
): ReadinessProbe {
  const deadlineMs = options.deadlineMs ?? READINESS_DEADLINE_MS;
  return async () => {
    try {
      return await engine.probe(async (db) => {
        await db.query("select 1");
        const checks: ReadinessCheck[] = [{ name: "database", ok: true, detail: engine.kind }];
        try {
          const schema = await schemaIsCurrent(db);
          checks.push({
            name: "migrations",
            ok: schema.current,
            detail: schema.current
              ? "current"
              : [...schema.problems, ...schema.pending.map((p) => `${p} pending`)].join(", "),
          });
          const role = await checkRole(db, engine.switchRoleInTransactions ? APP_ROLE : "current_user");
          checks.push({
            name: "runtime role",
            ok: role.ok || options.allowBypassRls,
            detail: role.ok
              ? role.role
              : `${role.problems.join("; ")}${options.allowBypassRls ? " (allowed by --insecure-allow-bypass-rls)" : ""}`,
          });
        } catch (error) {
          checks.push({ name: "catalog", ok: false, detail: (error as Error).message });
        }
        return checks;
      }, deadlineMs);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return [
        {
          name: "database",
          ok: false,
          detail: `unreachable: ${typeof code === "string" && code !== "database_unreachable" ? `${code} ` : ""}${(error as Error).message}`,
        },
      ];
    }
  };
}
