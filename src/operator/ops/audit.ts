// Operations on the audit trail: verify every chain (and the operator log), sign checkpoints now, export a
// workspace's trail for offline verification, read the operator log.
import { Type } from "@sinclair/typebox";
import { checkpointEverything, verifyEverything } from "../../audit/all-chains.ts";
import { exportAudit } from "../../audit/export.ts";
import { listOperatorLog } from "../../audit/operator-log.ts";
import { fileAnchorStore } from "../../audit/anchors.ts";
import { defineOperation, WorkspaceArg } from "../contract.ts";
import { buildEvidence, writeEvidence } from "../../security/evidence.ts";

const Workspace = WorkspaceArg;

export const auditOperations = {
  "audit.verify": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Type.Optional(Workspace) }, { additionalProperties: false }),
    run: async ({ engine, signer, config }, args) =>
      verifyEverything(engine, await signer(), args.workspace, {
        anchors: fileAnchorStore(config.auditAnchorFile),
        cadence: { everyEvents: config.auditCheckpointEvery, maxAgeMinutes: config.auditCheckpointMinutes },
      }),
  }),
  "audit.checkpoint": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Type.Optional(Workspace) }, { additionalProperties: false }),
    run: async ({ engine, signer, config }, args) =>
      checkpointEverything(engine, await signer(), args.workspace, fileAnchorStore(config.auditAnchorFile)),
  }),
  evidence: defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        from: Type.String({ minLength: 10, maxLength: 40 }),
        to: Type.String({ minLength: 10, maxLength: 40 }),
        out: Type.String({ minLength: 1, maxLength: 4096 }),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, signer, config }, args) =>
      writeEvidence(
        await buildEvidence(engine, config, await signer(), {
          from: new Date(args.from),
          to: new Date(args.to),
          env: process.env,
        }),
        args.out,
      ),
  }),
  "audit.export": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Workspace, out: Type.String({ minLength: 1, maxLength: 4096 }) },
      { additionalProperties: false },
    ),
    run: async ({ engine, signer }, args) => exportAudit(engine, await signer(), args.workspace, args.out),
  }),
  "audit.operator-log": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        action: Type.Optional(Type.String({ maxLength: 100 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        before: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      { additionalProperties: false },
    ),
    run: ({ engine }, args) => listOperatorLog(engine, { action: args.action, limit: args.limit, before: args.before }),
  }),
};
