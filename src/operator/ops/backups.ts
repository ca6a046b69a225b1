// Operations on backups: take one of the live database (embedded: inside `serve` when it runs, through the
// control socket; PostgreSQL: pg_dump with the owner connection), and verify one on a scratch copy. Both are recorded in the operator log.
import { Type } from "@sinclair/typebox";
import { logOperatorAction } from "../../audit/operator-log.ts";
import { createBackup } from "../../backups/create.ts";
import { postgresTarget } from "../../backups/postgres.ts";
import { verifyBackup } from "../../backups/verify.ts";
import { defineOperation } from "../contract.ts";

const Path = Type.String({ minLength: 1, maxLength: 4096 });
const Jwks = Type.Object({
  keys: Type.Array(
    Type.Object({ x: Type.String({ maxLength: 200 }), kid: Type.Optional(Type.String({ maxLength: 200 })) }),
    { maxItems: 50 },
  ),
});

export const backupOperations = {
  "backup.create": defineOperation({
    needs: "owner",
    args: Type.Object({ out: Type.Optional(Path) }, { additionalProperties: false }),
    run: async ({ engine, config, kek, signer, actor }, args) => {
      return createBackup(engine, {
        dir: args.out ?? config.backupDir,
        kek: await kek(),
        signer: await signer(),
        actor,
        postgres: postgresTarget(config),
      });
    },
  }),
  "backup.verify": defineOperation({
    needs: "owner",
    args: Type.Object(
      { ref: Path, dir: Type.Optional(Path), jwks: Type.Optional(Jwks) },
      { additionalProperties: false },
    ),
    run: async ({ engine, config, kek, signer, actor }, args) => {
      const keys = args.jwks
        ? { keys: args.jwks.keys, keySource: "the JWKS given" }
        : { keys: [(await signer()).publicJwk], keySource: "the installation's audit key" };
      const report = await verifyBackup(args.ref, {
        dir: args.dir ?? config.backupDir,
        kek: await kek(),
        ...keys,
        postgres: postgresTarget(config),
      });
      await logOperatorAction(engine, {
        action: "backup.verified",
        actor,
        targetType: "backup",
        targetId: report.id ?? args.ref,
        after: { ok: report.ok, problems: report.problems, seconds: report.seconds },
      });
      return report;
    },
  }),
};
