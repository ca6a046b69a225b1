// The alert rules over the request stream, counted in this instance (several instances each count their own
// share): one credential refused by the rate limits again and again, and one credential asking for ids that
// are not its workspace's (404s on routes that name a resource). Crossing a rule's threshold within its
// window raises (or counts again) the workspace's alert once, then the count starts over: at most one write
// per `threshold` events, however hard the burst. Thresholds come from security_alert_rules (read once a minute).
import type { TenantDoor } from "../db/tenant.ts";
import type { Logger } from "../log.ts";
import { raiseAlert } from "./alerts.ts";

export type RequestRule = "rate_limited_credential" | "cross_tenant_probing";

export interface RequestAlerts {
  /** One refused request of an authenticated credential: a 429, or a 404 on a route naming a resource. */
  observe(rule: RequestRule, workspaceId: string, credentialId: string, route: string): void;
  /** Raises still being written (tests and shutdown wait for them). */
  settled(): Promise<void>;
}

interface Threshold {
  threshold: number;
  windowMs: number;
  enabled: boolean;
}

const SUMMARY: Record<RequestRule, (n: number, minutes: number) => string> = {
  rate_limited_credential: (n, m) => `one credential was refused by the rate limits ${n} times within ${m} minutes`,
  cross_tenant_probing: (n, m) =>
    `one credential asked for ${n} ids that are not in this workspace within ${m} minutes`,
};

/** At most this many credentials are followed at once; the least recently seen are forgotten first. */
const MAX_TRACKED = 10_000;

export function requestAlerts(door: TenantDoor, logger: Logger, clock: () => number = Date.now): RequestAlerts {
  const seen = new Map<string, number[]>();
  const pending = new Set<Promise<unknown>>();
  let thresholds: Map<string, Threshold> | undefined;
  let loadedAt = 0;

  const load = async (workspaceId: string): Promise<Map<string, Threshold>> => {
    if (thresholds && clock() - loadedAt < 60_000) return thresholds;
    const rows = await door(workspaceId, (tx) =>
      tx.query<{ rule: string; threshold: number; window_seconds: number; enabled: boolean }>(
        "select rule, threshold, window_seconds, enabled from security_alert_rules where rule = any($1::text[])",
        [Object.keys(SUMMARY)],
      ),
    );
    thresholds = new Map(
      rows.map((r) => [r.rule, { threshold: r.threshold, windowMs: r.window_seconds * 1000, enabled: r.enabled }]),
    );
    loadedAt = clock();
    return thresholds;
  };

  const track = (promise: Promise<unknown>) => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  };

  return {
    observe(rule, workspaceId, credentialId, route) {
      track(
        (async () => {
          const limit = (await load(workspaceId)).get(rule);
          if (!limit?.enabled) return;
          const key = `${rule}\u0000${workspaceId}\u0000${credentialId}`;
          const now = clock();
          const times = (seen.get(key) ?? []).filter((t) => now - t < limit.windowMs);
          times.push(now);
          seen.delete(key); // re-inserted last: the Map's order is least recently seen first
          if (times.length < limit.threshold) {
            seen.set(key, times);
            if (seen.size > MAX_TRACKED) seen.delete(seen.keys().next().value as string);
            return;
          }
          await door(workspaceId, (tx) =>
            raiseAlert(tx, workspaceId, {
              rule,
              summary: SUMMARY[rule](times.length, Math.round(limit.windowMs / 60_000)),
              details: { credential_id: credentialId, count: times.length, last_route: route },
              dedupKey: `${rule}:${credentialId}`,
            }),
          );
        })().catch((error: Error) => logger.warn("security.alert_failed", { rule, error: error.message })),
      );
    },
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
