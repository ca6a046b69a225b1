// The operator's view of every chain at once: each workspace's trail (entered through the tenant door) and
// the operator log. What `causeloop audit verify` and `audit checkpoint` run. Verification goes beyond the
// hash chain and the checkpoints in the database: it compares every anchor kept outside the database, and it
// flags a tail of unsigned events that the checkpoint cadence would have signed long ago.
import type { Engine, Queryable } from "../db/engine.ts";
import { sweepAuditQueue } from "./sequencer.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import type { Anchor, AnchorStore } from "./anchors.ts";
import { raiseAlert, raiseOperatorAlert } from "../security/alerts.ts";
import { checkpointPayload, type Checkpoint, type VerifyResult } from "./chain.ts";
import { checkpointOperatorLog, OPERATOR_STREAM, verifyOperatorLog } from "./operator-log.ts";
import type { Signer } from "./signing.ts";
import { createCheckpoint, verifyWorkspace } from "./trail.ts";

export interface VerifyChecks {
  /** Checkpoints copied outside the database. */
  anchors?: AnchorStore;
  /** `serve` signs every `everyEvents` events or `maxAgeMinutes` minutes (CAUSELOOP_AUDIT_CHECKPOINT_*). */
  cadence?: { everyEvents: number; maxAgeMinutes: number };
  /** The clock the cadence is judged by (the database's now() when not given). */
  now?: Date;
  /**
   * false: leave out the operator log and its anchors, which only their owner may read (the runtime role's
   * nightly verification on PostgreSQL without DATABASE_OWNER_URL). Default true.
   */
  operatorLog?: boolean;
}

export interface AnchorReport {
  location: string;
  checked: number;
  unreadable: number;
  problems: { stream: string; seq: number; reason: string }[];
}

async function workspaceIds(engine: Engine, only?: string): Promise<string[]> {
  // A SECURITY DEFINER listing (migration 0045): the runtime role sees no workspace without a tenant set.
  if (!only)
    return (await engine.query<{ id: string }>("select workspace_id as id from audit_chain_workspaces()")).map(
      (w) => w.id,
    );
  const exists = await engine.query("select 1 from workspaces where id = $1", [only]);
  if (!exists[0]) throw new AppError("not_found", `workspace ${only} not found`);
  return [only];
}

function fail(result: VerifyResult, seq: number, reason: string): void {
  if (!result.ok) return;
  result.ok = false;
  result.first_broken_seq = seq;
  result.reason = reason;
}

/**
 * The cadence: `serve` signs a chain's head after `everyEvents` events or when its oldest unsigned event is
 * `maxAgeMinutes` old. More than twice that many unsigned events, the oldest older than twice the age plus ten
 * minutes, means checkpoints that should exist do not (deleted with their rows, or never made because the
 * signer was kept away). Run `causeloop audit checkpoint` if serve was simply down.
 */
async function checkCadence(
  engine: Engine,
  result: VerifyResult,
  cadence: NonNullable<VerifyChecks["cadence"]>,
  clock: Date | undefined,
  oldestUnsignedAt: () => Promise<Date | undefined>,
): Promise<void> {
  const signed = result.last_checkpoint_seq ?? (result.first_seq !== null ? result.first_seq - 1 : 0);
  const unsigned = (result.last_seq ?? 0) - signed;
  if (unsigned <= 2 * cadence.everyEvents) return;
  const oldest = await oldestUnsignedAt();
  const now = clock ?? new Date((await engine.query<{ t: Date }>("select now() as t"))[0]?.t ?? Date.now());
  const limitMs = (2 * cadence.maxAgeMinutes + 10) * 60_000;
  if (!oldest || now.getTime() - new Date(oldest).getTime() <= limitMs) return;
  fail(
    result,
    signed + 1,
    `checkpoints are missing: ${unsigned} events after seq ${signed} carry no signed checkpoint although the cadence (every ${cadence.everyEvents} events or ${cadence.maxAgeMinutes} minutes) would have signed them`,
  );
}

/** Compares one anchor with what the database holds now. */
async function anchorProblem(
  engine: Engine,
  anchor: Anchor,
  result: VerifyResult | undefined,
  signer: Pick<Signer, "keyId" | "verify">,
): Promise<string | undefined> {
  if (
    anchor.key_id !== signer.keyId ||
    !(await signer.verify(
      checkpointPayload(anchor.stream, anchor.seq, anchor.hash, anchor.signed_at),
      anchor.signature,
    ))
  ) {
    return `the anchor for seq ${anchor.seq} does not carry a valid signature of this installation's audit key`;
  }
  const read = <T>(fn: (q: Queryable) => Promise<T>) =>
    anchor.stream === OPERATOR_STREAM ? fn(engine) : withTenant(engine, anchor.stream, fn);
  const { cp, row } = await read(async (q) => {
    const table =
      anchor.stream === OPERATOR_STREAM
        ? { cps: "operator_log_checkpoints", rows: "operator_log", where: "" }
        : { cps: "audit_checkpoints", rows: "audit_log", where: "workspace_id = $2 and " };
    const params = anchor.stream === OPERATOR_STREAM ? [anchor.seq] : [anchor.seq, anchor.stream];
    const [c] = await q.query<{ hash: string }>(`select hash from ${table.cps} where ${table.where}seq = $1`, params);
    const [r] = await q.query<{ hash: string }>(`select hash from ${table.rows} where ${table.where}seq = $1`, params);
    return { cp: c?.hash, row: r?.hash };
  });
  if (row !== undefined && row !== anchor.hash)
    return `row ${anchor.seq} differs from the checkpoint anchored outside the database (history rewritten)`;
  if (row === undefined && result && result.last_seq !== null && anchor.seq > result.last_seq) {
    return `rows up to seq ${anchor.seq} are gone: a checkpoint anchored outside the database covers them (tail deleted)`;
  }
  if (cp === undefined)
    return `the signed checkpoint at seq ${anchor.seq} is gone from the database (its anchor outside the database remains)`;
  if (cp !== anchor.hash) return `the checkpoint at seq ${anchor.seq} differs from its anchor outside the database`;
  return undefined;
}

async function purgedWorkspaces(engine: Engine): Promise<Set<string>> {
  const rows = await engine.query<{ id: string }>("select workspace_id as id from audit_purged_workspaces()");
  return new Set(rows.map((r) => r.id));
}

async function checkAnchors(
  engine: Engine,
  signer: Pick<Signer, "keyId" | "verify">,
  store: AnchorStore,
  results: Map<string, VerifyResult>,
  only?: string,
  withOperatorLog = true,
): Promise<AnchorReport> {
  const { anchors, unreadable } = store.read();
  const report: AnchorReport = { location: store.location, checked: 0, unreadable, problems: [] };
  const purged = await purgedWorkspaces(engine);
  for (const anchor of anchors) {
    if (only && anchor.stream !== only) continue;
    if (!withOperatorLog && anchor.stream === OPERATOR_STREAM) continue;
    if (anchor.stream !== OPERATOR_STREAM && purged.has(anchor.stream)) continue; // its trail went with the tenant
    const result = results.get(anchor.stream);
    report.checked++;
    const reason =
      result || anchor.stream === OPERATOR_STREAM
        ? await anchorProblem(engine, anchor, result, signer)
        : `workspace ${anchor.stream} has anchored checkpoints but is gone without a purge record`;
    if (!reason) continue;
    report.problems.push({ stream: anchor.stream, seq: anchor.seq, reason });
    if (result) fail(result, anchor.seq, reason);
  }
  if (unreadable > 0)
    report.problems.push({
      stream: "anchors",
      seq: 0,
      reason: `${unreadable} line(s) of ${store.location} are not anchors (the file was edited)`,
    });
  return report;
}

/** Every workspace's chain (or one), and the operator log when no workspace is named. */
export async function verifyEverything(engine: Engine, signer: Signer, workspace?: string, checks: VerifyChecks = {}) {
  const results = new Map<string, VerifyResult>();
  // Every committed event is chained before the chains are read; one queued for more than 10 s that stays
  // queued (the sequencer fails on it) breaks its workspace's result instead of being skipped. (Younger ones
  // are writes committing right now, chained by their own flush.)
  await sweepAuditQueue(engine);
  const stuck = new Map(
    (
      await engine.query<{ workspace_id: string; queued: string | number }>(
        "select workspace_id, queued from audit_queue_pending(interval '10 seconds')",
      )
    ).map((r) => [r.workspace_id, Number(r.queued)]),
  );
  for (const id of await workspaceIds(engine, workspace)) {
    const result = await withTenant(engine, id, (tx) => verifyWorkspace(tx, id, signer));
    const queued = stuck.get(id);
    if (queued && result.ok)
      Object.assign(result, {
        ok: false,
        reason: `${queued} committed event(s) are queued and could not be chained (see audit.sequence_failed in the log)`,
      });
    if (checks.cadence && result.ok) {
      const signed = result.last_checkpoint_seq ?? 0;
      await checkCadence(
        engine,
        result,
        checks.cadence,
        checks.now,
        async () =>
          (
            await withTenant(engine, id, (tx) =>
              tx.query<{ t: Date }>(
                "select created_at as t from audit_log where workspace_id = $1 and seq > $2 order by seq limit 1",
                [id, signed],
              ),
            )
          )[0]?.t,
      );
    }
    results.set(id, result);
  }
  const withOperatorLog = !workspace && checks.operatorLog !== false;
  const operatorLog = withOperatorLog ? await verifyOperatorLog(engine, signer) : undefined;
  if (operatorLog) {
    if (checks.cadence && operatorLog.ok) {
      const signed = operatorLog.last_checkpoint_seq ?? 0;
      await checkCadence(
        engine,
        operatorLog,
        checks.cadence,
        checks.now,
        async () =>
          (
            await engine.query<{ t: Date }>(
              "select created_at as t from operator_log where seq > $1 order by seq limit 1",
              [signed],
            )
          )[0]?.t,
      );
    }
    results.set(OPERATOR_STREAM, operatorLog);
  }
  const anchors = checks.anchors
    ? await checkAnchors(engine, signer, checks.anchors, results, workspace, withOperatorLog)
    : undefined;
  const workspaces = [...results.entries()].filter(([stream]) => stream !== OPERATOR_STREAM).map(([, r]) => r);
  const ok = workspaces.every((r) => r.ok) && (operatorLog?.ok ?? true) && (anchors?.problems.length ?? 0) === 0;
  if (!ok) await raiseVerificationAlerts(engine, workspaces, operatorLog, anchors?.problems ?? []);
  return { ok, workspaces, operator_log: operatorLog, anchors };
}

/** A failed verification is an alert: the operator's, and each broken workspace's own (its security team sees it). */
async function raiseVerificationAlerts(
  engine: Engine,
  workspaces: VerifyResult[],
  operatorLog: VerifyResult | undefined,
  anchorProblems: { stream: string; seq: number; reason: string }[],
): Promise<void> {
  const broken = [...workspaces, ...(operatorLog ? [operatorLog] : [])].filter((r) => !r.ok);
  await raiseOperatorAlert(engine, {
    rule: "audit_verification_failed",
    summary: `audit verification failed: ${[...broken.map((r) => r.workspace_id), ...(anchorProblems.length ? ["anchors"] : [])].join(", ")}`,
    details: {
      chains: broken
        .slice(0, 50)
        .map((r) => ({ chain: r.workspace_id, first_broken_seq: r.first_broken_seq, reason: r.reason })),
      anchor_problems: anchorProblems.slice(0, 20),
    },
    dedupKey: "audit_verification_failed",
  });
  for (const result of broken.filter((r) => r.workspace_id !== OPERATOR_STREAM))
    await withTenant(engine, result.workspace_id, (tx) =>
      raiseAlert(tx, result.workspace_id, {
        rule: "audit_verification_failed",
        summary: `the audit trail failed verification at seq ${result.first_broken_seq ?? "-"}: ${result.reason ?? "broken"}`,
        details: { first_broken_seq: result.first_broken_seq, reason: result.reason },
        dedupKey: "audit_verification_failed",
      }),
    ).catch(() => undefined); // a workspace whose tables are damaged still has its operator alert
}

/** Signs a checkpoint of each chain head now (the operator log's too when no workspace is named), anchoring each. */
export async function checkpointEverything(engine: Engine, signer: Signer, workspace?: string, anchors?: AnchorStore) {
  const created: { workspace_id: string; seq: number }[] = [];
  for (const id of await workspaceIds(engine, workspace)) {
    const cp = await withTenant(engine, id, (tx) => createCheckpoint(tx, id, signer));
    if (!cp) continue;
    anchors?.append({ stream: id, ...cp });
    created.push({ workspace_id: id, seq: cp.seq });
  }
  if (!workspace) {
    const cp = await checkpointOperatorLogAnchored(engine, signer, anchors);
    if (cp) created.push({ workspace_id: OPERATOR_STREAM, seq: cp.seq });
  }
  return { created };
}

/** Signs the operator log's head (when unsigned) and, once committed, anchors it outside the database. */
export async function checkpointOperatorLogAnchored(
  engine: Engine,
  signer: Signer,
  anchors?: AnchorStore,
): Promise<Checkpoint | undefined> {
  const cp = await engine.transaction((tx) => checkpointOperatorLog(tx, signer));
  if (cp) anchors?.append({ stream: OPERATOR_STREAM, ...cp });
  return cp;
}
