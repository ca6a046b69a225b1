// Operations on the database itself: migrations, the runtime role, the doctor, the demo seed.
import { servePrerequisites } from "../../keys.ts";
import { lastAttestationCheck } from "../../security/attestation.ts";
import { backupsCheck } from "../../backups/staleness.ts";
import { erasureKeys } from "./governance.ts";
import { Type } from "@sinclair/typebox";
import { assertNoDrift, migrate, migrationStatus } from "../../db/migrate.ts";
import { checkRole, doctor, setupAppRole } from "../../db/system.ts";
import { APP_ROLE } from "../../db/tenant.ts";
import { seedDemo } from "../../tenancy/demo.ts";
import { defineOperation } from "../contract.ts";

const none = Type.Object({}, { additionalProperties: false });

export const databaseOperations = {
  migrate: defineOperation({
    needs: "owner",
    args: none,
    run: async ({ engine, actor }) => {
      const result = await migrate(engine, { actor });
      return { ...result, status: await migrationStatus(engine) };
    },
  }),
  "migrate.status": defineOperation({
    needs: "owner",
    args: none,
    run: async ({ engine }) => {
      const status = await migrationStatus(engine);
      let error: string | undefined;
      try {
        assertNoDrift(status);
      } catch (e) {
        error = (e as Error).message;
      }
      return { migrations: status, pending: status.filter((s) => s.state === "pending").length, error };
    },
  }),
  doctor: defineOperation({
    needs: "runtime",
    args: none,
    run: async ({ engine, config, kek }) => {
      const report = await doctor(engine, {
        engineName:
          engine.kind === "pglite" ? "PGlite (embedded)" : `PostgreSQL ${engine.info.host}/${engine.info.database}`,
        runtimeRole: engine.switchRoleInTransactions ? APP_ROLE : "current_user",
      });
      // What serve needs besides the database: a green doctor means serve starts.
      const prerequisites = report.checks.some((c) => c.name === "database reachable" && c.ok)
        ? await servePrerequisites(config, engine, kek)
        : [];
      const attested = report.checks.some((c) => c.name === "database reachable" && c.ok)
        ? [await lastAttestationCheck(engine), await backupsCheck(engine, config)]
        : [];
      const checks = [...report.checks, ...attested, ...prerequisites];
      return { ...report, checks, ok: checks.every((c) => c.ok) };
    },
  }),
  "roles.setup": defineOperation({
    needs: "owner",
    args: Type.Object(
      {
        password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
        rotate: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) =>
      setupAppRole(engine, { password: args.password, rotate: Boolean(args.rotate), actor }),
  }),
  "roles.check": defineOperation({
    needs: "owner",
    args: none,
    run: ({ engine }) => checkRole(engine, APP_ROLE),
  }),
  "demo.seed": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: none,
    run: async ({ engine, kek, config }) => seedDemo(engine, await kek(), () => erasureKeys(config, engine)),
  }),
};
