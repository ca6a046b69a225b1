// Liveness and readiness. /readyz answers 200 only when the database is reachable, the schema is current and
// the runtime role is safe; otherwise 503 with the reasons. When ready it also reports the backups' staleness.
import { Elysia, type Static, t } from "elysia";
import { component, responses } from "../http/contract.ts";
import { AppError } from "../errors.ts";

const Health = component("Health", t.Object({ status: t.Literal("ok"), version: t.String() }));
const ReadyBackups = t.Object({
  stale: t.Boolean(),
  last_backup_at: t.Union([t.String(), t.Null()]),
  last_drill_at: t.Union([t.String(), t.Null()]),
  last_drill_ok: t.Union([t.Boolean(), t.Null()]),
});
const Readiness = component(
  "Readiness",
  t.Object({
    status: t.Literal("ready"),
    version: t.String(),
    checks: t.Array(t.Object({ name: t.String(), ok: t.Boolean(), detail: t.String() })),
    /** Reported, never a reason to be unready: a stale backup is doctor's alarm and an operator alert. */
    backups: t.Optional(ReadyBackups),
  }),
);

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export type ReadinessProbe = () => Promise<ReadinessCheck[]>;

export type ReadyBackupsView = Static<typeof ReadyBackups>;
/** The backups' staleness for /readyz (undefined when it cannot be read in time). */
export type BackupsProbe = () => Promise<ReadyBackupsView | undefined>;

export function healthRoutes(readiness: ReadinessProbe, version: string, backups?: BackupsProbe) {
  return new Elysia({ name: "health" })
    .get("/healthz", () => ({ status: "ok", version }), {
      detail: {
        summary: "Liveness: the process is up",
        tags: ["health"],
        security: [],
        responses: responses({ 200: Health }),
      },
    })
    .get(
      "/readyz",
      async () => {
        // Side by side, so the report adds nothing to the answer's worst-case time.
        const [checks, status] = await Promise.all([readiness(), backups?.()]);
        if (checks.every((c) => c.ok))
          return { status: "ready", version, checks, ...(status ? { backups: status } : {}) };
        const failing = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        throw new AppError("not_ready", failing.join("; "), { checks });
      },
      {
        detail: {
          summary: "Readiness: database reachable, migrations current, runtime role safe",
          tags: ["health"],
          security: [],
          responses: responses({ 200: Readiness }),
        },
      },
    );
}
