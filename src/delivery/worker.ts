// The delivery worker: claims due deliveries of every workspace (claim_deliveries, FOR UPDATE SKIP LOCKED, so
// several instances share the work), signs each with its endpoint's secrets (Standard Webhooks) and POSTs it
// through the outbound guard. Success marks it delivered; a failure schedules the next attempt from the retry
// schedule (with jitter) or, when the schedule is spent, moves it to the dead-letter queue. A destination that
// keeps failing opens its circuit: its deliveries wait (no attempt spent) until the circuit's time is up, then
// one probe decides. No transaction is held during the HTTP call; a worker killed mid-call leaves a lease that
// expires (or, embedded, a delivery requeued at start), so the event is sent again with the same webhook-id.
import type { Engine, Queryable, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { appendAudit } from "../audit/service.ts";
import { newId } from "../ids.ts";
import type { Logger } from "../log.ts";
import { guardedFetch } from "../net/fetch.ts";
import type { OutboundPolicy } from "../net/policy.ts";
import { SecretBox } from "../secrets/envelope.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { signedHeaders } from "./signing.ts";
import type { DeliverySettings } from "./settings.ts";

interface Claimed {
  workspace_id: string;
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  payload: unknown;
  attempts: number;
}

interface Endpoint {
  url: string;
  status: string;
  secrets: string[];
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string; gone?: boolean };

/** Embedded mode has one process: deliveries left in flight at start belonged to a process that is gone. */
export async function requeueOrphanedDeliveries(engine: Queryable): Promise<number> {
  const [row] = await engine.query<{ n: number }>("select requeue_orphaned_deliveries() as n");
  return row?.n ?? 0;
}

/** Deletes deliveries delivered `deliveredDays` ago and dead letters `deadDays` old, in every workspace. */
export async function pruneDeliveries(
  engine: Queryable,
  { deliveredDays, deadDays }: { deliveredDays: number; deadDays: number },
): Promise<number> {
  const [row] = await engine.query<{ n: number }>("select prune_deliveries($1, $2) as n", [deliveredDays, deadDays]);
  return row?.n ?? 0;
}

/** Seconds until the attempt after `attempts` failed ones, ±20 % so destinations recovering together are not hit at once. */
export function retryDelay(schedule: number[], attempts: number, random = Math.random): number | null {
  const base = schedule[attempts - 1];
  if (base === undefined) return null;
  return base * (0.8 + 0.4 * random());
}

export class DeliveryWorker {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private current: Promise<unknown> | undefined;
  readonly id = `delivery-${process.pid}-${newId("job").slice(-6)}`;

  constructor(
    private readonly engine: Engine,
    private readonly kek: KekProvider,
    private readonly policy: OutboundPolicy,
    private readonly logger: Logger,
    private readonly settings: DeliverySettings,
    private readonly options: {
      pollMs?: number;
      leaseSeconds?: number;
      batch?: number;
      /** Told each attempt's outcome (the metrics' counter). */
      observe?: (outcome: "delivered" | "failed" | "dead") => void;
    } = {},
  ) {}

  /** Claims and attempts every due delivery once; returns how many were attempted. */
  async drain(): Promise<number> {
    const claimed = await this.engine.query<Claimed>("select * from claim_deliveries($1, $2, $3)", [
      this.id,
      this.options.batch ?? 20,
      this.options.leaseSeconds ?? Math.max(60, Math.ceil((this.policy.timeoutMs * 3) / 1000)),
    ]);
    if (!claimed.length) return 0;
    // One destination's deliveries go out one after another, in order; destinations in parallel.
    const byEndpoint = new Map<string, Claimed[]>();
    for (const delivery of claimed) {
      const key = `${delivery.workspace_id}/${delivery.webhook_id}`;
      byEndpoint.set(key, [...(byEndpoint.get(key) ?? []), delivery]);
    }
    await Promise.all([...byEndpoint.values()].map((group) => this.deliverGroup(group)));
    return claimed.length;
  }

  private async deliverGroup(group: Claimed[]): Promise<void> {
    // One destination, one read of its URL and secrets for the whole group.
    const first = group[0] as Claimed;
    const endpoint = await this.loadEndpoint(first);
    for (const [index, delivery] of group.entries()) {
      const circuitOpen = await this.attempt(delivery, endpoint);
      if (circuitOpen) {
        // The circuit just opened: the rest wait for it without spending an attempt.
        const rest = group.slice(index + 1);
        if (rest.length) await this.release(rest);
        return;
      }
    }
  }

  private async loadEndpoint(delivery: Claimed): Promise<Endpoint | null> {
    const ws = delivery.workspace_id;
    try {
      return await withTenant(this.engine, ws, (tx) => this.endpoint(tx, ws, delivery.webhook_id));
    } catch (error) {
      // The secret cannot be opened (its data key destroyed with the workspace's erasure, say): nothing to send.
      this.logger.warn("delivery.endpoint_unreadable", {
        delivery_id: delivery.id,
        error: (error as Error).message,
      });
      return null;
    }
  }

  /** Attempts one delivery and records the outcome; true when the destination's circuit is now open. */
  private async attempt(delivery: Claimed, endpoint: Endpoint | null): Promise<boolean> {
    const ws = delivery.workspace_id;
    if (!endpoint || endpoint.status === "disabled") {
      await withTenant(this.engine, ws, (tx) =>
        this.finish(tx, delivery, { ok: false, status: null, error: "the webhook was deleted or disabled" }, null),
      );
      return false;
    }
    const outcome = await this.send(delivery, endpoint);
    return withTenant(this.engine, ws, async (tx) => {
      // Seconds until the next attempt; null when there is none (delivered, gone, or the schedule is spent).
      const retryIn = outcome.ok || outcome.gone ? null : retryDelay(this.settings.retrySchedule, delivery.attempts);
      await this.finish(tx, delivery, outcome, retryIn);
      if (outcome.ok) {
        await tx.query(
          `update webhooks set failure_count = 0, circuit_open_until = null, circuit_opens = 0, last_delivery_at = now(),
                  status = case when status = 'failing' then 'active' else status end
            where workspace_id = $1 and id = $2`,
          [ws, delivery.webhook_id],
        );
        return false;
      }
      if (outcome.gone) {
        await tx.query("update webhooks set status = 'disabled' where workspace_id = $1 and id = $2", [
          ws,
          delivery.webhook_id,
        ]);
        await appendAudit(tx, {
          workspaceId: ws,
          action: "webhook.disabled",
          actorId: "system:delivery",
          actorType: "system",
          targetType: "webhook",
          targetId: delivery.webhook_id,
          after: { reason: "the endpoint answered 410 Gone" },
        });
        return true;
      }
      const [row] = await tx.query<{ open: boolean }>(
        `update webhooks set failure_count = failure_count + 1,
                circuit_open_until = case when failure_count + 1 >= $3
                  then now() + make_interval(secs => least($4 * power(2, circuit_opens), 3600)) else circuit_open_until end,
                circuit_opens = case when failure_count + 1 >= $3 then circuit_opens + 1 else circuit_opens end,
                status = case when failure_count + 1 >= $3 and status = 'active' then 'failing' else status end
          where workspace_id = $1 and id = $2
          returning coalesce(circuit_open_until > now(), false) as open`,
        [ws, delivery.webhook_id, this.settings.breakerThreshold, this.settings.breakerSeconds],
      );
      return row?.open ?? false;
    });
  }

  private async endpoint(tx: Tx, workspaceId: string, webhookId: string): Promise<Endpoint | null> {
    const [row] = await tx.query<{
      url: string;
      status: string;
      secret_encrypted: string | null;
      secret_previous_encrypted: string | null;
      previous_valid: boolean;
    }>(
      `select url, status, secret_encrypted, secret_previous_encrypted,
              coalesce(secret_previous_until > now(), false) as previous_valid
         from webhooks where workspace_id = $1 and id = $2 and deleted_at is null`,
      [workspaceId, webhookId],
    );
    if (!row) return null;
    const box = new SecretBox(tx, this.kek, workspaceId);
    const secrets: string[] = [];
    if (row.secret_encrypted)
      secrets.push(
        await box.open({ table: "webhooks", column: "secret_encrypted", rowId: webhookId }, row.secret_encrypted),
      );
    if (row.secret_previous_encrypted && row.previous_valid)
      secrets.push(
        await box.open(
          { table: "webhooks", column: "secret_previous_encrypted", rowId: webhookId },
          row.secret_previous_encrypted,
        ),
      );
    return { url: row.url, status: row.status, secrets };
  }

  private async send(delivery: Claimed, endpoint: Endpoint): Promise<Outcome> {
    const body = JSON.stringify(delivery.payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Causeloop-Webhooks/1",
      ...(endpoint.secrets.length ? signedHeaders(delivery.event_id, body, endpoint.secrets) : {}),
    };
    if (!endpoint.secrets.length) headers["webhook-id"] = delivery.event_id;
    try {
      const response = await guardedFetch(
        endpoint.url,
        { method: "POST", headers, body, redirect: "manual" },
        this.policy,
      );
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return {
        ok: false,
        status: response.status,
        error: `the endpoint answered HTTP ${response.status}`,
        gone: response.status === 410,
      };
    } catch (error) {
      // OutboundRefused messages name the host and the reason, never the URL's path, query or credentials.
      return { ok: false, status: null, error: (error as Error).message.slice(0, 500) };
    }
  }

  /** Records the outcome: delivered, pending again in `retryIn` seconds, or dead when a failure has no retry. */
  private async finish(tx: Tx, delivery: Claimed, outcome: Outcome, retryIn: number | null): Promise<void> {
    const spent = !outcome.ok && retryIn === null;
    const delay = retryIn ?? 0;
    const status = outcome.ok ? "delivered" : spent ? "dead" : "pending";
    await tx.query(
      `update webhook_deliveries
          set status = $3, last_status = $4, last_error = $5, locked_by = null, locked_until = null,
              next_attempt_at = now() + make_interval(secs => $6),
              delivered_at = case when $3 = 'delivered' then now() else delivered_at end,
              dead_at = case when $3 = 'dead' then now() else null end
        where workspace_id = $1 and id = $2 and locked_by = $7`,
      [delivery.workspace_id, delivery.id, status, outcome.status, outcome.ok ? null : outcome.error, delay, this.id],
    );
    const fields = {
      delivery_id: delivery.id,
      webhook_id: delivery.webhook_id,
      event_type: delivery.event_type,
      attempt: delivery.attempts,
    };
    this.options.observe?.(outcome.ok ? "delivered" : spent ? "dead" : "failed");
    if (outcome.ok) this.logger.log("debug", "delivery.delivered", fields);
    else if (spent) this.logger.warn("delivery.dead_lettered", { ...fields, error: outcome.error });
    else
      this.logger.info("delivery.attempt_failed", { ...fields, error: outcome.error, retry_in_s: Math.round(delay) });
  }

  /** Gives claimed deliveries back without counting the attempt (their destination's circuit opened). */
  private async release(deliveries: Claimed[]): Promise<void> {
    const first = deliveries[0] as Claimed;
    await withTenant(this.engine, first.workspace_id, (tx) =>
      tx.query(
        `update webhook_deliveries set status = 'pending', attempts = attempts - 1, locked_by = null, locked_until = null
          where workspace_id = $1 and id = any($2::text[]) and locked_by = $3`,
        [first.workspace_id, deliveries.map((d) => d.id), this.id],
      ),
    );
  }

  start(): void {
    const tick = async () => {
      if (this.stopping) return;
      let attempted = 0;
      this.current = this.drain().then(
        (n) => {
          attempted = n;
        },
        (error: Error) => this.logger.error("delivery.worker_failed", { error: error.message }),
      );
      await this.current;
      if (!this.stopping) this.timer = setTimeout(tick, attempted ? 0 : (this.options.pollMs ?? 500));
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }
}
