// Operations on keys: status, master key rotation, one workspace's data key rotation.
import { Type } from "@sinclair/typebox";
import { keyStatus, rotateDek, rotateKek } from "../../secrets/rotation.ts";
import { logKekRotation } from "../../audit/operator-log.ts";
import { offsiteFor } from "../../backups/offsite.ts";
import { carryBackups } from "../../backups/rekey.ts";
import { defineOperation } from "../contract.ts";

export const keyOperations = {
  "keys.status": defineOperation({
    needs: "owner",
    args: Type.Object({}, { additionalProperties: false }),
    run: async ({ engine, kek }) => keyStatus(engine, await kek()),
  }),
  "keys.rotate-kek": defineOperation({
    needs: "owner",
    args: Type.Object({ generate: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    run: async ({ engine, kek, actor, config, signer }, args, progress) => {
      const result = await rotateKek(engine, await kek(), {
        generate: Boolean(args.generate),
        onProgress: progress,
        actor,
        // Backups' data keys follow the ring (and the ledger records the keys a restore will need).
        beforeDrop: carryBackups(engine, {
          dir: config.backupDir,
          signer: await signer(),
          offsite: offsiteFor(config),
        }),
      });
      await logKekRotation(engine, actor, result, { generated: Boolean(args.generate) });
      return result;
    },
  }),
  "keys.rotate-dek": defineOperation({
    needs: "owner",
    args: Type.Object({ workspace: Type.String({ pattern: "^ws_[0-9a-z]{26}$" }) }, { additionalProperties: false }),
    run: async ({ engine, kek, actor }, args, progress) =>
      rotateDek(engine, await kek(), args.workspace, { actor, onProgress: progress }),
  }),
};
