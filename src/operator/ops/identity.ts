// Operations on a workspace's identity plumbing: its SCIM tokens (for operators who set up provisioning on a
// client's behalf) and its access reviews (read and export). Each goes through the tenant door; changes land
// in the workspace's audit trail.
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import { createScimToken, listScimTokens, revokeScimToken } from "../../identity/scim/tokens.ts";
import { exportReview, getReview, listReviews } from "../../identity/access-reviews.ts";
import { defineOperation, WorkspaceArg, operatorActor } from "../contract.ts";

const Workspace = WorkspaceArg;
const Review = Type.Object(
  { workspace: Workspace, id: Type.String({ pattern: "^arv_[0-9a-z]{26}$" }) },
  { additionalProperties: false },
);

export const identityOperations = {
  "scim.token.create": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        workspace: Workspace,
        name: Type.String({ minLength: 1, maxLength: 100 }),
        /** The token's authority: an admin's cannot deprovision owners (default admin). */
        role: Type.Optional(Type.Union([Type.Literal("owner"), Type.Literal("admin")])),
      },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) =>
      withTenant(engine, args.workspace, (tx) =>
        createScimToken(
          tx,
          { ...operatorActor(args.workspace, actor), role: args.role ?? "admin" },
          { name: args.name },
        ),
      ),
  }),
  "scim.token.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Workspace }, { additionalProperties: false }),
    run: async ({ engine }, args) =>
      (await withTenant(engine, args.workspace, (tx) => listScimTokens(tx, args.workspace, { limit: 200 }))).data,
  }),
  "scim.token.revoke": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { workspace: Workspace, id: Type.String({ pattern: "^sct_[0-9a-z]{26}$" }) },
      { additionalProperties: false },
    ),
    run: async ({ engine, actor }, args) => {
      await withTenant(engine, args.workspace, (tx) =>
        revokeScimToken(tx, operatorActor(args.workspace, actor), args.id),
      );
      return { id: args.id, revoked: true };
    },
  }),
  "access-review.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ workspace: Workspace }, { additionalProperties: false }),
    run: async ({ engine }, args) =>
      (await withTenant(engine, args.workspace, (tx) => listReviews(tx, args.workspace, { limit: 200 }))).data,
  }),
  "access-review.show": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Review,
    run: ({ engine }, args) => withTenant(engine, args.workspace, (tx) => getReview(tx, args.workspace, args.id)),
  }),
  "access-review.export": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Review,
    run: ({ engine }, args) => withTenant(engine, args.workspace, (tx) => exportReview(tx, args.workspace, args.id)),
  }),
};
