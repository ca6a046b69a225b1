// Operations on a workspace's relays: relay tokens (for operators who set up a client's relay on their behalf)
// and the relays' connections. Each goes through the tenant door; token changes land in the audit trail.
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import { createRelayToken, listRelayTokens, revokeRelayToken, rotateRelayToken } from "../../relay/tokens.ts";
import { listRelays } from "../../relay/views.ts";
import { defineOperation, WorkspaceArg, operatorActor } from "../contract.ts";

const Workspace = WorkspaceArg;
const TokenRef = Type.Object(
  { workspace: Workspace, id: Type.String({ pattern: "^rlt_[0-9a-z]{26}$" }) },
  { additionalProperties: false },
);

export const relayOperations = {
  "relay.token.create": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Workspace, name: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$" }) },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) =>
      withTenant(engine, args.workspace, (tx) =>
        createRelayToken(tx, operatorActor(args.workspace, actor), { name: args.name }),
      ),
  }),
  "relay.token.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Workspace }, { additionalProperties: false }),
    run: async ({ engine }, args) =>
      (await withTenant(engine, args.workspace, (tx) => listRelayTokens(tx, args.workspace, { limit: 200 }))).data,
  }),
  "relay.token.rotate": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: TokenRef,
    run: ({ engine, actor }, args) =>
      withTenant(engine, args.workspace, (tx) => rotateRelayToken(tx, operatorActor(args.workspace, actor), args.id)),
  }),
  "relay.token.revoke": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: TokenRef,
    run: async ({ engine, actor }, args) => {
      await withTenant(engine, args.workspace, (tx) =>
        revokeRelayToken(tx, operatorActor(args.workspace, actor), args.id),
      );
      return { id: args.id, revoked: true };
    },
  }),
  "relay.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Workspace }, { additionalProperties: false }),
    run: async ({ engine }, args) =>
      (await withTenant(engine, args.workspace, (tx) => listRelays(tx, args.workspace, { limit: 200 }))).data,
  }),
};
