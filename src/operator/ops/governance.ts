// Operations on data governance: the retention purge, and the operator's review of erasure requests.
import { existingSigner } from "../../audit/signing.ts";
import { Type } from "@sinclair/typebox";
import { runRetention } from "../../governance/retention.ts";
import { decideRequest, reviewQueue, reviewRequest } from "../../governance/rtbf-review.ts";
import { RTBF_STATUSES } from "../../governance/rtbf.ts";
import { vacuumFull, vacuumPendingErasures } from "../../governance/vacuum.ts";
import { archiveStore } from "../../governance/storage.ts";
import { exportLinks } from "../../governance/export-links.ts";
import { loadErasureKeys } from "../../keys.ts";
import type { Config } from "../../config.ts";
import type { Engine } from "../../db/engine.ts";
import { defineOperation, WorkspaceArg } from "../contract.ts";

const Workspace = WorkspaceArg;
const RequestId = Type.String({ pattern: "^rtbf_[0-9a-z]{26}$" });

/** The RTBF keys and the export archive store as `serve` builds them (an erasure deletes archives). */
export async function erasureKeys(config: Config, engine: Engine) {
  const keys = await loadErasureKeys(config, engine);
  return { rtbf: keys.rtbf, store: archiveStore(config, exportLinks(keys.exportLinkKey, config.exportLinkMinutes)) };
}

export const governanceOperations = {
  "retention.run": defineOperation({
    needs: "owner",
    args: Type.Object(
      { workspace: Type.Optional(Workspace), dryRun: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) =>
      runRetention(engine, { workspace: args.workspace, dryRun: Boolean(args.dryRun), actor }),
  }),
  "rtbf.list": defineOperation({
    needs: "owner",
    args: Type.Object(
      {
        overdue: Type.Optional(Type.Boolean()),
        status: Type.Optional(Type.Union(RTBF_STATUSES.map((s) => Type.Literal(s)))),
      },
      { additionalProperties: false },
    ),
    run: ({ engine }, args) => reviewQueue(engine, args),
  }),
  "rtbf.show": defineOperation({
    needs: "owner",
    args: Type.Object({ id: RequestId }, { additionalProperties: false }),
    run: ({ engine }, args) => reviewRequest(engine, args.id),
  }),
  "rtbf.decide": defineOperation({
    needs: "owner",
    args: Type.Object(
      {
        id: RequestId,
        decision: Type.Union([
          Type.Literal("approve"),
          Type.Literal("reject"),
          Type.Literal("hold"),
          Type.Literal("verify"),
        ]),
        reason: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, config, actor }, args) => {
      const decided = await decideRequest(
        engine,
        () => erasureKeys(config, engine),
        actor,
        args.id,
        args.decision,
        args.reason,
      );
      // The operator's connection owns the tables: vacuum now rather than wait for serve's worker. A failure
      // leaves the request's vacuum pending (shown by `rtbf show`); the erasure itself is done.
      if (args.decision !== "approve") return decided;
      await vacuumPendingErasures(engine, {
        requestId: args.id,
        actor,
        full: vacuumFull(config.rtbfVacuum, config.engine),
      }).catch(() => undefined);
      return reviewRequest(engine, args.id);
    },
  }),
  "rtbf.vacuum": defineOperation({
    needs: "owner",
    // Each vacuumed request gets its own audit row and compliance-log entry in its workspace.
    args: Type.Object(
      { id: Type.Optional(RequestId), full: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
    run: ({ engine, config, actor }, args) =>
      vacuumPendingErasures(engine, {
        requestId: args.id,
        actor,
        full: args.full === true || vacuumFull(config.rtbfVacuum, config.engine),
      }),
  }),
  "rtbf.jwks": defineOperation({
    needs: "owner",
    args: Type.Object({}, { additionalProperties: false }),
    // Verification never generates a key: without one, a clear error naming --data-dir and --jwks.
    run: async ({ config }) => ({
      keys: [(await existingSigner({ env: process.env, dataDir: config.dataDir })).publicJwk],
    }),
  }),
};
