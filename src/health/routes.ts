// Liveness and readiness. /readyz answers 200 only when the database is reachable, the schema is current and
// the runtime role is safe; otherwise 503 with the reasons.
import { Elysia } from "elysia";
import { AppError } from "../errors.ts";

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export type ReadinessProbe = () => Promise<ReadinessCheck[]>;

export function healthRoutes(readiness: ReadinessProbe, version: string) {
  return new Elysia({ name: "health" })
    .get("/healthz", () => ({ status: "ok", version }), {
      detail: { summary: "Liveness: the process is up", tags: ["health"], security: [] },
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
        },
      },
    );
}
