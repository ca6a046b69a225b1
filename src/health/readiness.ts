// The readiness probe used by /readyz: cheap catalog queries, no tenant data.
import type { Engine } from "../db/engine.ts";
import { schemaIsCurrent } from "../db/migrate.ts";
import { checkRole } from "../db/system.ts";
import { APP_ROLE } from "../db/tenant.ts";
import type { ReadinessCheck, ReadinessProbe } from "./routes.ts";

export function engineReadiness(engine: Engine, options: { allowBypassRls: boolean }): ReadinessProbe {
  return async () => {
    const checks: ReadinessCheck[] = [];
    try {
      await engine.query("select 1");
      checks.push({ name: "database", ok: true, detail: engine.kind });
    } catch (error) {
      return [{ name: "database", ok: false, detail: `unreachable: ${(error as Error).message}` }];
    }
    try {
      const schema = await schemaIsCurrent(engine);
      checks.push({
        name: "migrations",
        ok: schema.current,
        detail: schema.current ? "current" : [...schema.problems, ...schema.pending.map((p) => `${p} pending`)].join(", "),
      });
      const role = await checkRole(engine, engine.switchRoleInTransactions ? APP_ROLE : "current_user");
      checks.push({ name: "runtime role", ok: role.ok || options.allowBypassRls, detail: role.ok ? role.role : `${role.problems.join("; ")}${options.allowBypassRls ? " (allowed by --insecure-allow-bypass-rls)" : ""}` });
    } catch (error) {
      checks.push({ name: "catalog", ok: false, detail: (error as Error).message });
    }
    return checks;
  };
}
