// The typed drizzle mirror of db/migrations, one file per aggregate. test/helpers/drift.ts checks it against
// the migrated database.
export * from "./tenancy.ts";
export * from "./auth.ts";
export * from "./product.ts";
export * from "./integrations.ts";
export * from "./governance.ts";
export * from "./keys.ts";
export * from "./security.ts";
export * from "./provisioning.ts";
export * from "./relay.ts";
