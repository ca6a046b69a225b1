// Operations on backups: take one of the live database (embedded: inside `serve` when it runs, through the
// control socket; PostgreSQL: pg_dump with the owner connection), and verify one on a scratch copy. Both are recorded in the operator log.
import { Type } from "@sinclair/typebox";
import { createBackup } from "../../backups/create.ts";
import { installedKeyRing, installedRtbfKey } from "../../backups/keys.ts";
import { copyOffsite, fetchOffsite, offsiteFor } from "../../backups/offsite.ts";
import { pendingReplay, replayAfterRestore } from "../../backups/replay.ts";
import { pruneBackups } from "../../backups/retention.ts";
import { verifyAndRecord } from "../../backups/schedule.ts";
import { backupStaleness, readBackupReadout } from "../../backups/staleness.ts";
import { AppError } from "../../errors.ts";
import { postgresTarget } from "../../backups/postgres.ts";
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
      const dir = args.out ?? config.backupDir;
      const result = await createBackup(engine, {
        dir,
        kek: await kek(),
        signer: await signer(),
        actor,
        postgres: postgresTarget(config),
      });
      return { ...result, offsite: await copyOffsite(config, dir, result.id) };
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
      const dir = args.dir ?? config.backupDir;
      await fetchOffsite(config, dir, args.ref);
      return verifyAndRecord(
        engine,
        args.ref,
        { dir, kek: await kek(), ...keys, postgres: postgresTarget(config) },
        actor,
      );
    },
  }),
  "backup.replay": defineOperation({
    needs: "owner",
    args: Type.Object(
      { since: Type.Optional(Type.String({ format: "date-time", maxLength: 40 })) },
      { additionalProperties: false },
    ),
    run: async ({ engine, config, signer, actor }, args) => {
      const pending = await pendingReplay(engine);
      const since = args.since ?? pending?.since;
      if (!since)
        throw new AppError(
          "bad_request",
          "nothing to replay: this database has no restore waiting for its replay; after a point-in-time recovery give --since <the recovery target time>",
        );
      // The ring as installed, without checking it against this database: the replay is what makes them fit.
      return replayAfterRestore(engine, new Date(since).toISOString(), pending?.backup_id ?? null, {
        dir: config.backupDir,
        keys: [(await signer()).publicJwk],
        kek: installedKeyRing(config),
        hmacKey: installedRtbfKey(config),
        actor,
      });
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
        offsite: offsiteFor(config),
      }),
  }),
};
