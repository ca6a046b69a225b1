// The demo organization `causeloop demo` serves: one organization, one workspace, a handful of incidents.
import type { Engine } from "../db/engine.ts";

const DEMO_ISSUES: [string, string, string][] = [
  ["Checkout API p99 latency above 2s", "high", "investigating"],
  ["Payment webhooks failing with 502 from upstream", "critical", "open"],
  ["Nightly ETL job exceeded its window", "medium", "mitigated"],
  ["Disk usage at 91% on db-replica-2", "high", "open"],
  ["Login error rate spike after deploy 2026.11.3", "critical", "resolved"],
];

export async function seedDemo(
  engine: Engine,
): Promise<{ organization: string; workspace_id: string; issues: number }> {
  return engine.transaction(async (tx) => {
    const existing = await tx.query<{ id: string }>(
      "select w.id from workspaces w join organizations o on o.id = w.organization_id where o.slug = 'demo'",
    );
    if (existing[0]) return { organization: "demo", workspace_id: existing[0].id, issues: DEMO_ISSUES.length };
    const [org] = await tx.query<{ id: string }>(
      "insert into organizations (id, slug, name) values (new_id('org'), 'demo', 'Demo Corp') returning id",
    );
    const [ws] = await tx.query<{ id: string }>(
      "insert into workspaces (id, organization_id, slug, name) values (new_id('ws'), $1, 'production', 'Production') returning id",
      [org?.id],
    );
    const workspaceId = ws?.id as string;
    await tx.query("insert into workspace_settings (workspace_id, id) values ($1, new_id('wss'))", [workspaceId]);
    for (const [title, severity, status] of DEMO_ISSUES) {
      await tx.query(
        "insert into issues (workspace_id, id, title, severity, status, source) values ($1, new_id('iss'), $2, $3, $4, 'demo')",
        [workspaceId, title, severity, status],
      );
    }
    return { organization: "demo", workspace_id: workspaceId, issues: DEMO_ISSUES.length };
  });
}
