// Operations on incident intelligence: a workspace's problems as the console shows them (its clusters with
// their open issues, newest activity first), read through the workspace's door.
import { Type } from "@sinclair/typebox";
import { withTenant } from "../../db/tenant.ts";
import { defineOperation } from "../contract.ts";

export interface ProblemRow {
  cluster_id: string;
  template: string;
  event_count: number;
  last_seen_at: string | null;
  open_issues: number;
  services: string[];
}

export interface WorkspaceProblems {
  workspace: { id: string; slug: string; organization: string } | null;
  workspaces: { id: string; slug: string; organization: string }[];
  clusters: ProblemRow[];
  open_issues: number;
  predictions: { pending: number; hit: number; miss: number };
  recommendations: number;
}

export const intelligenceOperations = {
  "intelligence.problems": defineOperation({
    needs: "owner",
    migrateFirst: true,
    args: Type.Object(
      {
        workspace: Type.Optional(Type.String({ pattern: "^ws_[0-9a-z]{26}$" })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
      },
      { additionalProperties: false },
    ),
    run: async ({ engine }, args): Promise<WorkspaceProblems> => {
      const workspaces = await engine.query<{ id: string; slug: string; organization: string }>(
        `select w.id, w.slug, o.slug as organization from workspaces w join organizations o on o.id = w.organization_id
          where w.status = 'active' order by o.slug, w.slug`,
      );
      const workspace = workspaces.find((w) => w.id === args.workspace) ?? workspaces[0] ?? null;
      const empty = { pending: 0, hit: 0, miss: 0 };
      if (!workspace)
        return { workspace, workspaces, clusters: [], open_issues: 0, predictions: empty, recommendations: 0 };
      return withTenant(engine, workspace.id, async (tx) => {
        const clusters = await tx.query<ProblemRow>(
          `select c.id as cluster_id, c.template, c.event_count::float8 as event_count, c.last_seen_at, c.services,
                  (select count(*)::int from issues i where i.workspace_id = c.workspace_id and i.cluster_id = c.id
                      and i.deleted_at is null and i.status not in ('resolved', 'closed')) as open_issues
             from clusters c where c.workspace_id = $1 and c.deleted_at is null and c.algorithm = 'template'
            order by c.last_seen_at desc nulls last limit $2`,
          [workspace.id, args.limit ?? 12],
        );
        const [issues] = await tx.query<{ n: number }>(
          "select count(*)::int as n from issues where workspace_id = $1 and deleted_at is null and status not in ('resolved', 'closed')",
          [workspace.id],
        );
        const [predictions] = await tx.query<{ pending: number; hit: number; miss: number }>(
          `select count(*) filter (where outcome = 'pending')::int as pending, count(*) filter (where outcome = 'hit')::int as hit,
                  count(*) filter (where outcome = 'miss')::int as miss from predictions where workspace_id = $1 and deleted_at is null`,
          [workspace.id],
        );
        const [recommendations] = await tx.query<{ n: number }>(
          "select count(*)::int as n from recommendations where workspace_id = $1 and deleted_at is null and status = 'proposed'",
          [workspace.id],
        );
        return {
          workspace,
          workspaces,
          clusters: clusters.map((c) => ({
            ...c,
            last_seen_at: c.last_seen_at ? new Date(c.last_seen_at).toISOString() : null,
          })),
          open_issues: issues?.n ?? 0,
          predictions: predictions ?? empty,
          recommendations: recommendations?.n ?? 0,
        };
      });
    },
  }),
};
