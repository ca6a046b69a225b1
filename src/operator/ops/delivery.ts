// Operations on outbound delivery: a workspace's webhook deliveries (the dead-letter queue is status dead),
// and replaying one (recorded in the workspace's audit trail, as the API does).
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import { DELIVERY_STATUSES, listWorkspaceDeliveries, replayDeliveryById } from "../../delivery/service.ts";
import { defineOperation } from "../contract.ts";

const Workspace = Type.String({ pattern: "^ws_[0-9a-z]{26}$" });

export const deliveryOperations = {
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
