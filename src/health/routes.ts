// Liveness and readiness. /readyz answers 200 only when the database is reachable, the schema is current and
// the runtime role is safe; otherwise 503 with the reasons.
import { Elysia, t } from "elysia";
import { component, responses } from "../http/contract.ts";
import { AppError } from "../errors.ts";

const Health = component("Health", t.Object({ status: t.Literal("ok"), version: t.String() }));
const Readiness = component(
  "Readiness",
  t.Object({
    status: t.Literal("ready"),
    version: t.String(),
    checks: t.Array(t.Object({ name: t.String(), ok: t.Boolean(), detail: t.String() })),
  }),
);

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export type ReadinessProbe = () => Promise<ReadinessCheck[]>;

export function healthRoutes(readiness: ReadinessProbe, version: string) {
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
        const checks = await readiness();
        if (checks.every((c) => c.ok)) return { status: "ready", version, checks };
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
