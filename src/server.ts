// `causeloop serve`: the database, the HTTP API and (embedded mode) the control socket, with graceful shutdown.
import type { Config } from "./config.ts";
import { createApp } from "./http/app.ts";
import { rateLimitsOn } from "./tenancy/limits.ts";
import { engineReadiness } from "./health/readiness.ts";
import { readinessBackups } from "./backups/staleness.ts";
import type { Logger } from "./log.ts";
import { maintenanceConnection, openForServe } from "./operator/database.ts";
import { attestationRunner } from "./security/attestation.ts";
import { startControlServer, type ControlServer } from "./operator/control.ts";
import { isOperationName } from "./operator/operations.ts";
import { runInProcess } from "./operator/transport.ts";
import { AppError } from "./errors.ts";
import { pendingReplay } from "./backups/replay.ts";
import { tenantDoor, withoutTenant } from "./db/tenant.ts";
import type { JwtKeys } from "./identity/jwt.ts";
import { loadServerKeys } from "./keys.ts";
import { openKeyRing } from "./secrets/load.ts";
import type { LocalKeyRing } from "./secrets/keyring.ts";
import type { Signer } from "./audit/signing.ts";
import { checkpointDueWorkspaces } from "./audit/trail.ts";
import { setSequencerLogger, sweepAuditQueue } from "./audit/sequencer.ts";
import { checkpointOperatorLogAnchored } from "./audit/all-chains.ts";
import { fileAnchorStore } from "./audit/anchors.ts";
import { Scheduler } from "./jobs/scheduler.ts";
import { jobHandlers, scheduledJobs } from "./jobs/registry.ts";
import { requeueOrphanedJobs, Worker } from "./jobs/queue.ts";
import { exportLinks } from "./governance/export-links.ts";
import { archiveStore } from "./governance/storage.ts";
import { approve, type RtbfKeys } from "./governance/rtbf.ts";
import { VERSION } from "./version.ts";
import { outboundPolicy } from "./net/policy.ts";
import { DeliveryWorker, requeueOrphanedDeliveries } from "./delivery/worker.ts";
import { AuditStreamer } from "./delivery/audit-stream.ts";
import { requestAlerts } from "./security/request-rules.ts";
import { notifyOperatorAlerts } from "./security/operator-notify.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";
import { databaseReadout } from "./observability/readout.ts";
import { metricsRoutes } from "./observability/routes.ts";
import { startMetricsListener, type MetricsListener } from "./observability/listener.ts";
import { startTracing, type Tracing } from "./observability/tracing.ts";
import { createRelayHub } from "./relay/hub/hub.ts";

const RELAY_PATH = "/v1/relay/connect";

export interface RunningServer {
  url: string;
  port: number;
  /** Stops accepting, drains in-flight requests (up to the shutdown timeout), closes the database. */
  shutdown(reason: string): Promise<void>;
  closed: Promise<void>;
  /**
   * Re-reads the TLS certificate and key (SIGHUP): a new listener on the same port takes new connections, the
   * old one finishes what it has. A file that does not load leaves the running certificate in place (logged).
   */
  reloadTls(): Promise<boolean>;
  /** The metrics listener's URL (CAUSELOOP_METRICS_ADDR), when there is one. */
  metricsUrl?: string;
}

/** How long /readyz waits for the backups' staleness before answering without it. */
const BACKUPS_READOUT_TIMEOUT_MS = 500;

/** How long a scrape waits for its database readout before answering without it. */
const READOUT_TIMEOUT_MS = 2_000;

/** The certificate and key, read now; a missing or unreadable file is one line naming it. */
async function readTls(tls: NonNullable<Config["tls"]>): Promise<{ cert: string; key: string }> {
  const read = async (file: string, what: string) => {
    try {
      return await Bun.file(file).text();
    } catch {
      throw new AppError("config_invalid", `cannot read the TLS ${what} file ${file}`);
    }
  };
  const [cert, key] = [await read(tls.certFile, "certificate"), await read(tls.keyFile, "key")];
  if (!cert.includes("-----BEGIN CERTIFICATE-----"))
    throw new AppError("config_invalid", `${tls.certFile} holds no PEM certificate`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key))
    throw new AppError("config_invalid", `${tls.keyFile} holds no PEM private key`);
  return { cert, key };
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const started = performance.now();
  const db = await openForServe(config, logger);
  const databaseMs = performance.now() - started;
  let kek: LocalKeyRing;
  let signer: Signer;
  let jwt: JwtKeys;
  let rtbfKeys: RtbfKeys;
  let exportLinkKey: Uint8Array;
  try {
    // A database restored from a backup without the erasure ledger's replay would serve people erased since.
    const pending = await pendingReplay(db.engine);
    if (pending)
      throw new AppError(
        "config_invalid",
        `this database was restored from backup ${pending.backup_id} but the erasure ledger was not replayed: run \`causeloop restore --replay-only\` first`,
      );
    kek = await openKeyRing(config, db.engine);
    ({ signer, jwt, rtbf: rtbfKeys, exportLinkKey } = await loadServerKeys(config, db.engine));
  } catch (error) {
    await db.close();
    throw error;
  }
  // Continuous isolation attestation (src/security/attestation.ts): at start and on a timer; a failure makes
  // /readyz answer 503 naming the table.
  const maintenance = maintenanceConnection(config, db.engine);
  const attestation = attestationRunner(db.engine, maintenance?.run, signer, logger, config.insecureAllowBypassRls);
  const engineReady = engineReadiness(db.engine, { allowBypassRls: config.insecureAllowBypassRls });
  // Traces (OTEL_EXPORTER_OTLP_ENDPOINT): the SDK is loaded only now, and only then does the request path's
  // engine give its transactions and queries spans; background work keeps the plain engine.
  let tracing: Tracing | undefined;
  try {
    tracing = config.tracing ? await startTracing(config.tracing, { version: VERSION, logger }) : undefined;
  } catch (error) {
    await db.close();
    throw error;
  }
  const requestEngine = tracing ? tracing.engine(db.engine) : db.engine;
  const links = exportLinks(exportLinkKey, config.exportLinkMinutes);
  const store = archiveStore(config, links);
  // The shared buckets' reservations on connections of their own (OpenDatabase.side), never the request pool's.
  const limits = rateLimitsOn(db.side ?? db.engine, config.engine, config.rateLimit, logger);
  const handlers = jobHandlers(db.engine, config, store, maintenance);
  // Metrics exist only when served somewhere (a listener, or the API port with a token): never by accident.
  const metrics: Metrics | undefined =
    config.metrics.address || config.metrics.token
      ? createMetrics({
          pool: () => db.engine.poolStats(),
          readout: () => db.engine.probe(databaseReadout, READOUT_TIMEOUT_MS),
          readoutFailed: (error) => logger.warn("metrics.readout_failed", { error: error.message }),
          jobKinds: Object.keys(handlers),
          rateLimitStoreFailures: () => limits.limiter.counts.storeFailures,
        })
      : undefined;
  const door = tenantDoor(requestEngine);
  // Relays connect over WebSocket (/v1/relay/connect); queries reach them wherever they are connected.
  const relayHub = createRelayHub({ engine: db.engine, door: tenantDoor(db.engine), logger });
  const app = createApp({
    relayHub,
    tracing,
    logger,
    readiness: async () => [...(await engineReady()), attestation.readiness()],
    backups: readinessBackups(db.engine, config, BACKUPS_READOUT_TIMEOUT_MS),
    version: VERSION,
    bodyLimitBytes: config.bodyLimitBytes,
    door: metrics ? metrics.timedDoor(door) : door,
    metrics,
    requestAlerts: requestAlerts(door, logger),
    capabilities: metrics && config.metrics.token ? [metricsRoutes(metrics, config.metrics.token)] : [],
    kek,
    signer,
    outbound: outboundPolicy({ allowlist: config.outboundAllowlist }),
    publicUrl: config.publicUrl,
    trustedProxies: config.trustedProxies,
    cors: config.cors,
    tls: config.tls !== undefined,
    maxInFlight: config.maxInFlight,
    idempotencyTtlHours: config.idempotencyTtlHours,
    limits,
    rtbf: { keys: rtbfKeys, approve: (actor, id) => approve(db.engine, rtbfKeys, store, actor, id) },
    exports: { links, store, door },
    sessions: {
      jwt,
      anonymous: (fn) => withoutTenant(requestEngine, fn),
      idleMinutes: config.sessionIdleMinutes,
      absoluteDays: config.sessionAbsoluteDays,
      globalIdp: config.idp,
    },
  });
  let control: ControlServer | undefined;
  let metricsListener: MetricsListener | undefined;
  let server: ReturnType<typeof Bun.serve>;
  // With TLS the listener is opened with SO_REUSEPORT, so a reload can open the next one on the same port.
  const listen = (port: number, tls: { cert: string; key: string } | undefined) =>
    Bun.serve({
      hostname: config.host,
      port,
      reusePort: tls !== undefined,
      tls,
      maxRequestBodySize: config.bodyLimitBytes + 1,
      development: false,
      websocket: relayHub.websocket,
      fetch: async (request, server) => {
        const peer = server.requestIP(request)?.address;
        if (
          request.headers.get("upgrade")?.toLowerCase() === "websocket" &&
          new URL(request.url).pathname === RELAY_PATH
        )
          return relayHub.upgrade(request, server, peer);
        return app.fetch(request, peer);
      },
    });
  try {
    server = listen(config.port, config.tls ? await readTls(config.tls) : undefined);
    const address = config.metrics.address;
    if (metrics && address) {
      try {
        metricsListener = startMetricsListener(address, metrics, { token: config.metrics.token, logger });
      } catch (error) {
        server.stop(true);
        if ((error as NodeJS.ErrnoException).code === "EADDRINUSE")
          throw new AppError(
            "config_invalid",
            `CAUSELOOP_METRICS_ADDR: port ${address.port} on ${address.host} is already in use`,
          );
        throw error;
      }
    }
    if (config.engine === "pglite") {
      control = startControlServer(
        config.dataDir,
        async (name, body) => {
          if (!isOperationName(name)) throw new AppError("not_found", `unknown operation ${name}`);
          return runInProcess(
            name,
            { engine: db.engine, config, kek: async () => kek, signer: async () => signer, scheduler: () => scheduler },
            body,
          );
        },
        logger,
      );
    }
  } catch (error) {
    await db.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE")
      throw new AppError("config_invalid", `port ${config.port} on ${config.host} is already in use`);
    throw error;
  }
  const url = `${config.tls ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${server.port}`;
  logger.info("serve.started", {
    url,
    engine: db.engine.kind,
    data_dir: config.engine === "pglite" ? config.dataDir : undefined,
    database: db.engine.info.host ? `${db.engine.info.host}/${db.engine.info.database}` : undefined,
    version: VERSION,
    startup_ms: Math.round(performance.now() - started),
    // Where a slow start went: opening the database (and, on a new embedded one, unpacking its template),
    // then keys, app and listener; process_ms counts from the process's own start (module loading included).
    database_ms: Math.round(databaseMs),
    process_ms: Math.round(performance.now()),
  });
  // On PostgreSQL the state directory holds only keys, exports and anchors: easy to leave at its default under
  // the home directory of whoever started it. Said at every start (causeloop setup writes CAUSELOOP_DATA_DIR).
  if (config.engine === "postgres" && !config.dataDirExplicit)
    logger.warn("state.default_dir", {
      detail: `no CAUSELOOP_DATA_DIR: keys, exports and audit anchors go to ${config.dataDir}; set it to the state directory (/var/lib/causeloop for the service)`,
    });
  if (metricsListener) {
    logger.info("metrics.listening", { url: metricsListener.url, token_required: Boolean(config.metrics.token) });
    const loopback = /^(127\.|::1$|localhost$)/.test(config.metrics.address?.host ?? "");
    if (!loopback && !config.metrics.token)
      logger.warn("metrics.unauthenticated_listener", {
        detail: `metrics are served without a token on ${metricsListener.url}: keep that address on a private network, or set CAUSELOOP_METRICS_TOKEN`,
      });
  }
  if (config.tracing)
    logger.info("tracing.enabled", {
      url: config.tracing.url,
      protocol: config.tracing.protocol,
      service_name: config.tracing.serviceName,
      sampler: config.tracing.sampler,
    });
  if (config.insecureAllowBypassRls)
    logger.warn("security.insecure_flag", { detail: "--insecure-allow-bypass-rls is set: never use it in production" });

  // Signed audit checkpoints: every minute, for workspaces that are due, and the operator log's head; each one
  // is also appended to the anchor file outside the database.
  const anchors = fileAnchorStore(config.auditAnchorFile);
  const checkpoint = async () => {
    try {
      const made = await checkpointDueWorkspaces(
        db.engine,
        signer,
        { everyEvents: config.auditCheckpointEvery, maxAgeMinutes: config.auditCheckpointMinutes },
        anchors,
      );
      const operator = await checkpointOperatorLogAnchored(db.engine, signer, anchors);
      if (made || operator)
        logger.info("audit.checkpoints", { created: made, operator_log_seq: operator?.seq ?? null });
    } catch (error) {
      logger.error("audit.checkpoints_failed", { error: (error as Error).message });
    }
  };
  const checkpointTimer = setInterval(checkpoint, 60_000);
  // Audit events a process left queued (it stopped between a commit and its flush: src/audit/sequencer.ts) are
  // chained by this sweep, at start and every 5 s; events younger than 2 s are their own flush's business.
  setSequencerLogger(logger);
  let sweeping: Promise<unknown> | undefined;
  const sweep = (minAgeSeconds: number) => {
    sweeping ??= sweepAuditQueue(db.engine, minAgeSeconds)
      .catch((error: Error) => logger.error("audit.sweep_failed", { error: error.message }))
      .finally(() => {
        sweeping = undefined;
      });
    return sweeping;
  };
  await sweep(0);
  const sweepTimer = setInterval(() => void sweep(2), 5_000);
  // At start; on the embedded engine a little after it (the interval, at most 10 s), since a run holds its one
  // connection for about a second and the first requests should not wait for it.
  const firstAttestation = setTimeout(
    () => void attestation.run(),
    config.engine === "pglite" ? Math.min(config.attestationIntervalSeconds, 10) * 1000 : 0,
  );
  const attestationTimer = setInterval(() => void attestation.run(), config.attestationIntervalSeconds * 1000);
  const scheduler = new Scheduler(
    db.engine,
    scheduledJobs(db.engine, config, async () => rtbfKeys, store, {
      kek: async () => kek,
      signer: async () => signer,
      owner: maintenance?.run.bind(maintenance),
    }),
    logger,
  );
  // On the embedded engine the scheduler starts (its catch-up checks and runs) a moment after the server is
  // ready: they hold its one connection, for half a second at a start on a slow machine, and /readyz and the
  // first requests should not queue behind them. A slot due meanwhile is caught up then, as after any stop.
  let schedulerStarting: Promise<void> | undefined;
  const schedulerStart =
    config.engine === "pglite"
      ? setTimeout(() => {
          schedulerStarting = scheduler
            .start()
            .catch((error) => logger.error("scheduler.start_failed", { error: (error as Error).message }));
        }, 1_000)
      : undefined;
  if (!schedulerStart) await scheduler.start();
  await relayHub.start();
  if (config.engine === "pglite") await requeueOrphanedJobs(db.engine);
  const worker = new Worker(db.engine, handlers, logger, {
    leaseSeconds: config.jobLeaseSeconds,
  });
  worker.start();
  // Outbound delivery (src/delivery/): webhooks and anchors, retried, circuit-broken, dead-lettered.
  if (config.engine === "pglite") {
    await requeueOrphanedDeliveries(db.engine);
    await db.engine.query("select release_audit_stream_locks()");
  }
  // Webhooks (the workspaces' and the operator's): 10 s, answers read up to 64 KiB and ignored, no redirects.
  const webhookPolicy = outboundPolicy({
    allowlist: config.outboundAllowlist,
    timeoutMs: 10_000,
    maxBytes: 64 * 1024,
    maxRedirects: 0,
  });
  const deliveries = new DeliveryWorker(db.engine, kek, webhookPolicy, logger, config.delivery, {
    observe: metrics ? (outcome) => metrics.deliveryAttempt(outcome) : undefined,
  });
  deliveries.start();
  // The audit trail streamed to each workspace's SIEM (src/delivery/audit-stream.ts), in order, never dropped.
  const streamer = new AuditStreamer(
    db.engine,
    kek,
    outboundPolicy({ allowlist: config.outboundAllowlist, timeoutMs: 15_000, maxBytes: 64 * 1024, maxRedirects: 0 }),
    logger,
  );
  streamer.start();
  // The operator's alerts to the operator's destination, when one is configured.
  const alertTarget = config.operatorAlertWebhook;
  let notifying: Promise<unknown> | undefined;
  const notifyTimer = alertTarget
    ? setInterval(() => {
        notifying ??= notifyOperatorAlerts(db.engine, alertTarget, webhookPolicy, logger)
          .catch((error: Error) => logger.warn("operator_alert.notify_failed", { error: error.message }))
          .finally(() => {
            notifying = undefined;
          });
      }, 2_000)
    : undefined;

  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info("serve.stopping", { reason, in_flight: app.inFlight() });
      await relayHub.stop();
      clearInterval(checkpointTimer);
      clearInterval(sweepTimer);
      clearTimeout(firstAttestation);
      clearInterval(attestationTimer);
      clearTimeout(schedulerStart);
      await schedulerStarting;
      await scheduler.stop();
      await worker.stop();
      await deliveries.stop();
      await streamer.stop();
      if (notifyTimer) clearInterval(notifyTimer);
      await notifying;
      const drained = server.stop(false);
      const timedOut = await Promise.race([
        drained.then(() => false),
        Bun.sleep(config.shutdownTimeoutMs).then(() => true),
      ]);
      if (timedOut) {
        logger.warn("serve.drain_timeout", { in_flight: app.inFlight() });
        await server.stop(true);
      }
      control?.stop();
      await metricsListener?.stop();
      await attestation.settled();
      await sweeping;
      await sweep(0); // chain whatever is still queued
      await checkpoint(); // sign what this run appended before the database closes
      // The last spans go out, within a bound: an unreachable collector never holds up the stop.
      if (tracing) await Promise.race([tracing.shutdown().catch(() => {}), Bun.sleep(5_000)]);
      await db.close();
      logger.info("serve.stopped", { reason });
      resolveClosed();
    })();
    return stopping;
  };
  const reloadTls = async () => {
    if (!config.tls || stopping) return false;
    try {
      const next = listen(server.port ?? config.port, await readTls(config.tls));
      const previous = server;
      server = next;
      void previous.stop(false);
      logger.info("serve.tls_reloaded", { cert_file: config.tls.certFile });
      return true;
    } catch (error) {
      logger.error("serve.tls_reload_failed", { error: (error as Error).message });
      return false;
    }
  };
  // Serving now: the JIT gets its normal tier-up thresholds back (the binary starts with them raised: scripts/build.ts).
  Bun.unsafe.setJITPolicy?.(1);
  return { url, port: server.port ?? config.port, shutdown, closed, reloadTls, metricsUrl: metricsListener?.url };
}
