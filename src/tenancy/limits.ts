// A workspace's own rate-limit budget (requests per minute for all its credentials together): read by the
// front door (cached briefly), set by the workspace's owner through the API or by an operator (`causeloop
// tenants rate-limit`). Null means the server's default (CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE).
import type { Engine, Tx } from "../db/engine.ts";
import { withTenant, withoutTenant, type TenantDoor } from "../db/tenant.ts";
import type { EngineKind } from "../config.ts";
import type { Logger } from "../log.ts";
import type { RateLimits } from "../http/app.ts";
import { localLimiter, sharedLimiter } from "../http/edge/rate-limit.ts";
import { AppError } from "../errors.ts";
import { appendAudit, type Actor } from "../audit/service.ts";
import { appendOperatorLog } from "../audit/operator-log.ts";

export interface WorkspaceRateLimit {
  /** The workspace's own budget, or null for the server's default. */
  per_minute: number | null;
}

export async function workspaceRateLimit(tx: Tx, workspaceId: string): Promise<WorkspaceRateLimit> {
  const [row] = await tx.query<{ per_minute: number | null }>(
    "select rate_limit_per_minute as per_minute from workspace_settings where workspace_id = $1",
    [workspaceId],
  );
  return { per_minute: row?.per_minute ?? null };
}

/** Sets (or clears, with null) the workspace's budget; audited in the workspace's trail. */
export async function setWorkspaceRateLimit(
  tx: Tx,
  actor: Actor,
  perMinute: number | null,
): Promise<WorkspaceRateLimit> {
  const before = await workspaceRateLimit(tx, actor.workspaceId);
  await tx.query("update workspace_settings set rate_limit_per_minute = $2 where workspace_id = $1", [
    actor.workspaceId,
    perMinute,
  ]);
  await appendAudit(tx, {
    workspaceId: actor.workspaceId,
    action: "workspace.rate_limit_changed",
    actorId: actor.actorId,
    actorType: actor.actorType,
    targetType: "workspace",
    targetId: actor.workspaceId,
    before,
    after: { per_minute: perMinute },
    context: actor.context,
  });
  return { per_minute: perMinute };
}

/** The operator's command: every workspace of the organization `slug` (or one of them) gets the budget. */
export async function setTenantRateLimit(
  engine: Engine,
  input: { slug: string; workspace?: string; perMinute: number | null; actor: string },
): Promise<{ slug: string; workspaces: { workspace_id: string; slug: string; per_minute: number | null }[] }> {
  const workspaces = await engine.query<{ id: string; slug: string }>(
    `select w.id, w.slug from workspaces w join organizations o on o.id = w.organization_id
      where o.slug = $1 and ($2::text is null or w.slug = $2) order by w.slug`,
    [input.slug, input.workspace ?? null],
  );
  if (!workspaces.length)
    throw new AppError("not_found", `no workspace ${input.workspace ? `${input.workspace} ` : ""}in ${input.slug}`);
  const done = [];
  for (const workspace of workspaces) {
    await withTenant(engine, workspace.id, (tx) =>
      setWorkspaceRateLimit(
        tx,
        { workspaceId: workspace.id, actorId: input.actor, actorType: "operator", context: {} },
        input.perMinute,
      ),
    );
    done.push({ workspace_id: workspace.id, slug: workspace.slug, per_minute: input.perMinute });
  }
  await appendOperatorLog(engine, {
    action: "tenant.rate_limit_changed",
    actor: input.actor,
    targetType: "organization",
    targetId: input.slug,
    after: { workspaces: done.map((w) => w.workspace_id), per_minute: input.perMinute },
  });
  return { slug: input.slug, workspaces: done };
}

/** Takes up to `want` tokens from a shared bucket (rate_limit_reserve, migration 0023). */
export async function reserveTokens(
  tx: Tx,
  key: string,
  limit: number,
  periodMs: number,
  want: number,
): Promise<{ granted: number; remaining: number; fullInMs: number }> {
  const [row] = await tx.query<{ granted: number; remaining: number; full_in_ms: number }>(
    "select granted, remaining, full_in_ms from rate_limit_reserve($1, $2, $3, $4)",
    [key, limit, periodMs, want],
  );
  return { granted: row?.granted ?? 0, remaining: row?.remaining ?? 0, fullInMs: row?.full_in_ms ?? 0 };
}

/** A workspace's own budget, read at most every `ttlMs` per instance (and forgotten at once when it changes here). */
export function workspaceLimitCache(
  read: (workspaceId: string, door: TenantDoor) => Promise<number | null>,
  ttlMs = 30_000,
) {
  const cache = new Map<string, { value: number | null; at: number }>();
  return {
    async get(workspaceId: string, door: TenantDoor): Promise<number | undefined> {
      const hit = cache.get(workspaceId);
      if (hit && Date.now() - hit.at < ttlMs) return hit.value ?? undefined;
      const value = await read(workspaceId, door);
      if (cache.size > 50_000) cache.clear();
      cache.set(workspaceId, { value, at: Date.now() });
      return value ?? undefined;
    },
    forget(workspaceId: string): void {
      cache.delete(workspaceId);
    },
  };
}

/**
 * The limits `serve` applies: buckets shared through PostgreSQL (every instance spends from the same budget),
 * in memory on the embedded engine; workspaces' own budgets read through the door, cached 30 s per instance.
 */
export function rateLimitsOn(
  engine: Engine,
  kind: EngineKind,
  settings: { perCredential: number; perWorkspace: number; perAddress: number },
  logger: Logger,
): RateLimits {
  const limiter =
    kind === "postgres"
      ? sharedLimiter(
          {
            reserve: (key, limit, period, want) =>
              withoutTenant(engine, (tx) => reserveTokens(tx, key, limit, period, want)),
          },
          logger,
        )
      : localLimiter();
  const cache = workspaceLimitCache(
    async (ws, door) => (await door(ws, (tx) => workspaceRateLimit(tx, ws))).per_minute,
  );
  return { limiter, ...settings, workspaceLimit: cache.get, forget: cache.forget };
}
