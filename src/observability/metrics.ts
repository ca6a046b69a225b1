// Prometheus metrics (text format) for one server: a dedicated prom-client Registry created with the server,
// fed on the request path by counters and histograms only (no database query, no allocation beyond a label
// lookup), and completed at scrape time by one database readout (src/observability/readout.ts), the pool's
// counters and the process's own metrics. Labels are bounded: route templates, never raw paths; fixed reasons.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { PoolStats } from "../db/engine.ts";
import type { TenantDoor } from "../db/tenant.ts";
import type { DatabaseReadout } from "./readout.ts";

/** What the HTTP front door reports as requests are answered. */
export interface HttpMetrics {
  /** One answered request: method, route template (never the raw path), status, seconds taken. */
  request(method: string, route: string, status: number, seconds: number): void;
  /** A 429: the rate-limit policy that refused (credential, workspace, address) or `failed_attempts`. */
  rateLimited(reason: string): void;
  /** A 401, by a reason from a fixed list (see authFailureReason in src/http/app.ts). */
  authFailed(reason: string): void;
}

export interface MetricsSources {
  /** The database engine's connection counters. */
  pool?: () => PoolStats;
  /** The scrape-time database readout (job queue, scheduler, audit chains); bounded by its own deadline. */
  readout?: () => Promise<DatabaseReadout>;
  /** Job kinds with a handler: each has a depth series (0 when none is queued). */
  jobKinds?: string[];
  /** Rate-limit store failures since start (the shared store on PostgreSQL). */
  rateLimitStoreFailures?: () => number;
  /** Told when a scrape's database readout fails (the scrape still answers, with the database gauge at 0). */
  readoutFailed?: (error: Error) => void;
}

export interface Metrics extends HttpMetrics {
  readonly registry: Registry;
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  /** The tenant door, timing each transaction it runs (connection wait, BEGIN and COMMIT included). */
  timedDoor(door: TenantDoor): TenantDoor;
  /** One webhook delivery attempt's outcome: delivered, failed (a retry is scheduled) or dead (dead-lettered). */
  deliveryAttempt(outcome: "delivered" | "failed" | "dead"): void;
  /** The exposition text: the process's metrics, then this server's, read from the database now. */
  render(): Promise<string>;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

let processRegistry: Registry | undefined;
/** CPU, memory, event loop, GC: they describe the process, so one set per process however many servers it runs. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];

  const requests = new Counter({
    name: "causeloop_http_requests_total",
    help: "HTTP requests answered, by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const durations = new Histogram({
    name: "causeloop_http_request_duration_seconds",
    help: "Time from receiving a request to its answer, by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const rateLimited = new Counter({
    name: "causeloop_rate_limit_rejections_total",
    help: "Requests refused with 429, by the policy that refused them (credential, workspace, address, failed_attempts)",
    labelNames: ["reason"] as const,
    registers,
  });
  const authFailures = new Counter({
    name: "causeloop_auth_failures_total",
    help: "Requests refused with 401, by reason",
    labelNames: ["reason"] as const,
    registers,
  });
  const transactions = new Histogram({
    name: "causeloop_db_tenant_transaction_duration_seconds",
    help: "Tenant-door transactions of HTTP requests, from asking for a connection to commit or rollback",
    labelNames: ["outcome"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const committed = transactions.labels("committed");
  const rolledBack = transactions.labels("rolled_back");

  const pool = sources.pool;
  if (pool) {
    const gauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(pool()));
        },
      });
    gauge("causeloop_db_pool_size", "Connections the pool may open (1 on the embedded engine)", (s) => s.size);
    gauge("causeloop_db_pool_in_use", "Transactions and sessions holding a pooled connection", (s) => s.inUse);
    gauge("causeloop_db_pool_waiting", "Transactions waiting for a pooled connection", (s) => s.waiting);
  }
  const storeFailures = sources.rateLimitStoreFailures;
  if (storeFailures)
    new Counter({
      name: "causeloop_rate_limit_store_failures_total",
      help: "Failures of the shared rate-limit store (reads went on, writes answered 503)",
      registers,
      collect() {
        this.reset();
        this.inc(storeFailures());
      },
    });

  const refresh = sources.readout ? databaseGauges(registry, sources) : undefined;
  const deliveryAttempts = new Counter({
    name: "causeloop_delivery_attempts_total",
    help: "Webhook delivery attempts by this instance, by outcome (delivered, failed: retry scheduled, dead: dead-lettered)",
    labelNames: ["outcome"] as const,
    registers,
  });
  for (const outcome of ["delivered", "failed", "dead"]) deliveryAttempts.inc({ outcome }, 0);

  return {
    registry,
    contentType: registry.contentType,
    request(method, route, status, seconds) {
      const labels = { method: METHODS.has(method) ? method : "OTHER", route, status: String(status) };
      requests.inc(labels);
      durations.observe(labels, seconds);
    },
    rateLimited: (reason) => rateLimited.inc({ reason }),
    authFailed: (reason) => authFailures.inc({ reason }),
    deliveryAttempt: (outcome) => deliveryAttempts.inc({ outcome }),
    timedDoor(door) {
      return async (workspaceId, fn, entry) => {
        const started = performance.now();
        let done = rolledBack;
        try {
          const result = await door(workspaceId, fn, entry);
          done = committed;
          return result;
        } finally {
          done.observe((performance.now() - started) / 1000);
        }
      };
    },
    async render() {
      await refresh?.();
      return `${await processMetrics().metrics()}${await registry.metrics()}`;
    },
  };
}

/** The gauges the database readout sets; returns the refresh a scrape runs first. */
function databaseGauges(registry: Registry, sources: MetricsSources) {
  const registers = [registry];
  const jobKinds = sources.jobKinds ?? [];
  const up = new Gauge({
    name: "causeloop_metrics_database_up",
    help: "1 when this scrape read the job queue, scheduler and audit chains from the database, else 0 (they keep their last values)",
    registers,
  });
  const readSeconds = new Gauge({
    name: "causeloop_metrics_database_read_seconds",
    help: "How long this scrape's database readout took",
    registers,
  });
  const queued = new Gauge({
    name: "causeloop_job_queue_depth",
    help: "Jobs queued (due or waiting for a retry), by kind, all workspaces",
    labelNames: ["kind"] as const,
    registers,
  });
  const running = new Gauge({
    name: "causeloop_job_queue_running",
    help: "Jobs claimed by a worker, by kind, all workspaces",
    labelNames: ["kind"] as const,
    registers,
  });
  const oldest = new Gauge({
    name: "causeloop_job_queue_oldest_due_age_seconds",
    help: "How long the oldest due queued job has waited past its run time, by kind (0: none due)",
    labelNames: ["kind"] as const,
    registers,
  });
  const lastSuccess = new Gauge({
    name: "causeloop_scheduler_last_success_timestamp_seconds",
    help: "When the scheduled job's last successful run ended (Unix time); absent until one has",
    labelNames: ["job"] as const,
    registers,
  });
  const lastFailure = new Gauge({
    name: "causeloop_scheduler_last_failure_timestamp_seconds",
    help: "When the scheduled job's last failed run ended (Unix time); absent until one has",
    labelNames: ["job"] as const,
    registers,
  });
  const unsigned = new Gauge({
    name: "causeloop_audit_unsigned_events",
    help: "Audit events not yet covered by a signed checkpoint, by chain (a workspace id, or operator); chains with none are omitted but operator",
    labelNames: ["chain"] as const,
    registers,
  });
  const unsignedAge = new Gauge({
    name: "causeloop_audit_oldest_unsigned_age_seconds",
    help: "Age of the oldest audit event not covered by a signed checkpoint, by chain",
    labelNames: ["chain"] as const,
    registers,
  });

  const plainGauge = (name: string, help: string) => new Gauge({ name, help, registers });
  const deliveryPending = plainGauge(
    "causeloop_delivery_queue_depth",
    "Webhook deliveries still to send (due, waiting for a retry, or in flight), all workspaces",
  );
  const deliveryDead = plainGauge(
    "causeloop_delivery_dead_letters",
    "Webhook deliveries in the dead-letter queue (every retry spent), all workspaces",
  );
  const deliveryOldest = plainGauge(
    "causeloop_delivery_oldest_due_age_seconds",
    "How long the oldest due delivery has waited past its attempt time (0: none due)",
  );
  const circuitsOpen = plainGauge(
    "causeloop_delivery_circuits_open",
    "Webhook destinations whose circuit breaker is open (their deliveries wait)",
  );

  const lastBackup = plainGauge(
    "causeloop_backup_last_success_timestamp_seconds",
    "When the last backup was taken (Unix time; the embedded engine); 0 until one has been",
  );
  const lastVerified = plainGauge(
    "causeloop_backup_last_verified_timestamp_seconds",
    "When a backup was last verified by restoring it into a scratch database (Unix time); 0 until one has been",
  );
  const lastDrillOk = plainGauge(
    "causeloop_backup_last_drill_success",
    "1 when the latest restore drill (or backup verify) passed; 0 when it failed, or before any has run",
  );
  const lastFailed = plainGauge(
    "causeloop_backup_last_failure_timestamp_seconds",
    "When a backup attempt last failed (Unix time); 0 until one has",
  );

  return async () => {
    const started = performance.now();
    let read: DatabaseReadout;
    try {
      read = await (sources.readout as () => Promise<DatabaseReadout>)();
    } catch (error) {
      sources.readoutFailed?.(error as Error);
      up.set(0);
      readSeconds.set((performance.now() - started) / 1000);
      return;
    }
    up.set(1);
    readSeconds.set((performance.now() - started) / 1000);
    for (const gauge of [queued, running, oldest, lastSuccess, lastFailure, unsigned, unsignedAge]) gauge.reset();
    for (const kind of jobKinds) {
      queued.set({ kind }, 0);
      running.set({ kind }, 0);
      oldest.set({ kind }, 0);
    }
    for (const job of read.jobs) {
      queued.set({ kind: job.kind }, Number(job.queued));
      running.set({ kind: job.kind }, Number(job.running));
      oldest.set({ kind: job.kind }, Number(job.oldest_due_seconds));
    }
    for (const run of read.scheduler) {
      if (run.last_success !== null) lastSuccess.set({ job: run.job }, Number(run.last_success));
      if (run.last_failure !== null) lastFailure.set({ job: run.job }, Number(run.last_failure));
    }
    for (const chain of read.audit) {
      unsigned.set({ chain: chain.chain }, Number(chain.unsigned));
      unsignedAge.set({ chain: chain.chain }, Number(chain.oldest_unsigned_seconds));
    }
    deliveryPending.set(Number(read.deliveries?.pending ?? 0));
    deliveryDead.set(Number(read.deliveries?.dead ?? 0));
    deliveryOldest.set(Number(read.deliveries?.oldest_due_seconds ?? 0));
    circuitsOpen.set(Number(read.deliveries?.circuits_open ?? 0));
    for (const gauge of [lastBackup, lastVerified, lastDrillOk, lastFailed]) gauge.reset();
    if (read.backups?.last_created) lastBackup.set(Number(read.backups.last_created));
    if (read.backups?.last_verified) lastVerified.set(Number(read.backups.last_verified));
    if (read.backups?.last_failed) lastFailed.set(Number(read.backups.last_failed));
    if (read.backups?.last_drill) lastDrillOk.set(read.backups.last_drill_ok === false ? 0 : 1);
  };
}
