// Puts at least one row in every tenant table of each workspace (catalog-driven, see isolation.ts).
import type { Engine } from "../../src/db/engine.ts";
import { seedEveryTenantTable } from "./isolation.ts";

export async function seedWorkspaces(owner: Engine, workspaceIds: string[]): Promise<void> {
  for (const ws of workspaceIds) await seedEveryTenantTable(owner, ws);
}
