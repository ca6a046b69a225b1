// Operations on a workspace's SSO connections (`causeloop sso create|update|list|show|delete|test`): the same services as
// /v1/sso-connections, entered through the tenant door, audited in the workspace as the operator. The test
// fetches through the outbound guard under the installation's allowlist.
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import type { Tx } from "../../db/engine.ts";
import type { Actor } from "../../audit/service.ts";
import { SecretBox } from "../../secrets/envelope.ts";
import { runWithOutbound } from "../../net/context.ts";
import { outboundPolicy } from "../../net/policy.ts";
import {
  clientSecretOf,
  connectionRow,
  createSsoConnection,
  deleteSsoConnection,
  getSsoConnection,
  listSsoConnections,
  updateSsoConnection,
} from "../../identity/sso/connections.ts";
import { SsoCreateBody, SsoUpdateBody, withIdpMetadata } from "../../identity/sso/routes.ts";
import type { OutboundPolicy } from "../../net/policy.ts";
import { auditTest, testConnection } from "../../identity/sso/check.ts";
import { defineOperation, type OperationContext, WorkspaceArg } from "../contract.ts";

const Target = Type.Object(
  { workspace: Type.String({ pattern: "^ws_[0-9a-z]{26}$" }), id: Type.String({ pattern: "^sso_[0-9a-z]{26}$" }) },
  { additionalProperties: false },
);
const operator = (ws: string, actor: string): Actor => ({
  workspaceId: ws,
  actorId: actor,
  actorType: "operator",
  context: {},
});
const sealed = async <T>(ctx: OperationContext, ws: string, fn: (box: SecretBox, tx: Tx) => Promise<T>) => {
  const kek = await ctx.kek();
  return withTenant(ctx.engine, ws, (tx) => fn(new SecretBox(tx, kek, ws), tx));
};

const Workspace = WorkspaceArg;

/** Fetches (SAML metadata, when given) through the outbound guard under the installation's allowlist. */
const guarded = <T>(ctx: OperationContext, fn: (policy: OutboundPolicy) => Promise<T>) => {
  const policy = outboundPolicy({ allowlist: ctx.config.outboundAllowlist });
  return runWithOutbound(policy, () => fn(policy));
};

export const ssoOperations = {
  "sso.create": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Workspace, connection: SsoCreateBody }, { additionalProperties: false }),
    run: (ctx, args) =>
      guarded(ctx, async (policy) => {
        const input =
          args.connection.provider === "saml" ? await withIdpMetadata(args.connection, policy) : args.connection;
        return sealed(ctx, args.workspace, (box, tx) =>
          createSsoConnection(tx, box, operator(args.workspace, ctx.actor), input, policy),
        );
      }),
  }),
  "sso.update": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Workspace, id: Target.properties.id, changes: SsoUpdateBody },
      { additionalProperties: false },
    ),
    run: (ctx, args) =>
      guarded(ctx, async (policy) => {
        const current = await withTenant(ctx.engine, args.workspace, (tx) =>
          connectionRow(tx, args.workspace, args.id),
        );
        const input = current.provider === "saml" ? await withIdpMetadata(args.changes, policy) : args.changes;
        return sealed(ctx, args.workspace, (box, tx) =>
          updateSsoConnection(tx, box, operator(args.workspace, ctx.actor), args.id, input, policy),
        );
      }),
  }),
  "sso.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Type.String({ pattern: "^ws_[0-9a-z]{26}$" }) }, { additionalProperties: false }),
    run: async (ctx, args) =>
      (await sealed(ctx, args.workspace, (box, tx) => listSsoConnections(tx, box, args.workspace, { limit: 200 })))
        .data,
  }),
  "sso.show": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Target,
    run: (ctx, args) => sealed(ctx, args.workspace, (box, tx) => getSsoConnection(tx, box, args.workspace, args.id)),
  }),
  "sso.delete": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Target,
    run: async ({ engine, actor }, args) => {
      await withTenant(engine, args.workspace, (tx) =>
        deleteSsoConnection(tx, operator(args.workspace, actor), args.id),
      );
      return { deleted: args.id };
    },
  }),
  "sso.test": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Target,
    run: async (ctx, args) => {
      const { row, secret } = await sealed(ctx, args.workspace, async (box, tx) => {
        const row = await connectionRow(tx, args.workspace, args.id);
        return { row, secret: await clientSecretOf(box, row) };
      });
      const result = await guarded(ctx, () => testConnection(row, secret));
      await withTenant(ctx.engine, args.workspace, (tx) =>
        auditTest(tx, operator(args.workspace, ctx.actor), args.id, result),
      );
      return result;
    },
  }),
};
