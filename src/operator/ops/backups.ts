// Operations on backups (embedded engine): take one of the live database (inside `serve` when it runs, through
// the control socket), verify one on a scratch copy, prune per retention. Each is recorded in the operator log.
import { Type } from "@sinclair/typebox";
import { createBackup } from "../../backups/create.ts";
import { pruneBackups } from "../../backups/retention.ts";
import { verifyAndRecord } from "../../backups/schedule.ts";
import { backupStaleness, readBackupReadout } from "../../backups/staleness.ts";
import { requireEmbedded } from "../../backups/store.ts";
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
      requireEmbedded(config);
      return createBackup(engine, {
        dir: args.out ?? config.backupDir,
        kek: await kek(),
        signer: await signer(),
        actor,
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
      requireEmbedded(config);
      const keys = args.jwks
        ? { keys: args.jwks.keys, keySource: "the JWKS given" }
        : { keys: [(await signer()).publicJwk], keySource: "the installation's audit key" };
      return verifyAndRecord(engine, args.ref, { dir: args.dir ?? config.backupDir, kek: await kek(), ...keys }, actor);
    },
  }),
  "backup.status": defineOperation({
    needs: "runtime",
    args: Type.Object({}, { additionalProperties: false }),
    run: async ({ engine, config }) => (await backupStaleness(engine, config)) ?? null,
  }),
  "backup.prune": defineOperation({
    needs: "owner",
    args: Type.Object({ dryRun: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    run: async ({ engine, config, actor }, args) =>
      pruneBackups(engine, config.backupDir, {
        keepDays: config.backupKeepDays,
        keepCount: config.backupKeepCount,
        now: new Date(),
        protect: [(await readBackupReadout(engine))?.last_verified_id],
        dryRun: Boolean(args.dryRun),
        actor,
      }),
  }),
};
