// Builds a tenant for a test: organization, workspace and settings, inserted with the owner connection.
import type { Engine } from "../../src/db/engine.ts";

export interface TestTenant {
  organizationId: string;
  workspaceId: string;
  slug: string;
}

export async function createTenant(
  owner: Engine,
  slug = `t${Math.random().toString(36).slice(2, 10)}`,
): Promise<TestTenant> {
  return owner.transaction(async (tx) => {
    const [org] = await tx.query<{ id: string }>(
      "insert into organizations (id, slug, name) values (new_id('org'), $1, $2) returning id",
      [slug, `Org ${slug}`],
    );
    const [ws] = await tx.query<{ id: string }>(
      "insert into workspaces (id, organization_id, slug, name) values (new_id('ws'), $1, 'production', 'Production') returning id",
      [org?.id],
    );
    await tx.query("insert into workspace_settings (workspace_id, id) values ($1, new_id('wss'))", [ws?.id]);
    return { organizationId: org?.id as string, workspaceId: ws?.id as string, slug };
  });
}

export async function insertIssue(owner: Engine, workspaceId: string, title: string): Promise<string> {
  const [row] = await owner.query<{ id: string }>(
    "insert into issues (workspace_id, id, title) values ($1, new_id('iss'), $2) returning id",
    [workspaceId, title],
  );
  return row?.id as string;
}
