// Operations on tenants: onboarding, workspaces, offboarding (with the purge's crypto-shredding), restore.
import { setTenantRateLimit } from "../../tenancy/limits.ts";
import { Type } from "@sinclair/typebox";
import {
  addWorkspace,
  listTenants,
  offboardClient,
  offboardingRecords,
  onboard,
  restore,
} from "../../tenancy/service.ts";
import { offsiteFor } from "../../backups/offsite.ts";
import { defineOperation } from "../contract.ts";

const Slug = Type.String({ minLength: 1, maxLength: 100 });

export const tenancyOperations = {
  onboard: defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        slug: Slug,
        name: Type.String({ maxLength: 200 }),
        adminEmail: Type.String({ maxLength: 254 }),
        workspace: Type.Optional(Slug),
        ifNotExists: Type.Optional(Type.Boolean()),
        adminTokenDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine, kek, actor, config }, args) =>
      onboard(
        engine,
        { ...args, actor, adminTokenDays: args.adminTokenDays ?? config.onboardingTokenDays },
        await kek(),
      ),
  }),
  "workspace.add": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { org: Slug, workspace: Slug, name: Type.Optional(Type.String({ maxLength: 200 })) },
      { additionalProperties: false },
    ),
    run: async ({ engine, kek, actor }, args) =>
      addWorkspace(engine, args.org, args.workspace, args.name, actor, await kek()),
  }),
  offboard: defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      { slug: Slug, mode: Type.Union([Type.Literal("soft"), Type.Literal("purge")]) },
      { additionalProperties: false },
    ),
    run: async ({ engine, kek, actor, config, signer }, args) =>
      offboardClient(engine, args.slug, args.mode, actor, () => kek(), {
        dir: config.backupDir,
        signer: await signer(),
        offsite: offsiteFor(config),
      }),
  }),
  "tenants.restore": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ slug: Slug }, { additionalProperties: false }),
    run: ({ engine, actor }, args) => restore(engine, args.slug, actor),
  }),
  "tenants.list": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({}, { additionalProperties: false }),
    run: ({ engine }) => listTenants(engine),
  }),
  "tenants.rate-limit": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        slug: Slug,
        workspace: Type.Optional(Slug),
        perMinute: Type.Union([Type.Integer({ minimum: 1, maximum: 10_000_000 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    run: ({ engine, actor }, args) => setTenantRateLimit(engine, { ...args, actor }),
  }),
  "tenants.offboardings": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object({ slug: Type.Optional(Slug) }, { additionalProperties: false }),
    run: ({ engine }, args) => offboardingRecords(engine, args.slug),
  }),
};
