// Operations on outbound delivery: a workspace's webhook deliveries (the dead-letter queue is status dead),
// and replaying one (recorded in the workspace's audit trail, as the API does).
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import {
  DELIVERY_STATUSES,
  listWorkspaceDeliveries,
  replayDeliveryById,
  type DeliveryView,
} from "../../delivery/service.ts";
import { defineOperation, WorkspaceArg } from "../contract.ts";

const Workspace = WorkspaceArg;

export const deliveryOperations = {
  /** The dead-letter queue of every workspace, newest first (the console's view). */
  "deliveries.dead": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
      { additionalProperties: false },
    ),
    run: async ({ engine }, args) => {
      const workspaces = await engine.query<{ id: string }>("select id from workspaces order by id");
      const dead: (DeliveryView & { workspace_id: string })[] = [];
      for (const { id } of workspaces) {
        const rows = await withTenant(engine, id, (tx) =>
          listWorkspaceDeliveries(tx, id, { status: "dead", limit: args.limit ?? 100 }),
        );
        dead.push(...rows.map((row) => ({ ...row, workspace_id: id })));
      }
      return dead.sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, args.limit ?? 100);
    },
  }),
  "deliveries.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        workspace: Workspace,
        status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      },
      { additionalProperties: false },
    ),
    run: ({ engine }, args) =>
      withTenant(engine, args.workspace, (tx) =>
        listWorkspaceDeliveries(tx, args.workspace, { status: args.status, limit: args.limit }),
      ),
  }),
  "deliveries.replay": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Workspace, id: Type.String({ pattern: "^dlv_[0-9a-z]{26}$" }) },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) =>
      withTenant(engine, args.workspace, (tx) =>
        replayDeliveryById(
          tx,
          { workspaceId: args.workspace, actorId: actor, actorType: "operator", context: {} },
          args.id,
        ),
      ),
  }),
};
