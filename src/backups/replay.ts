// After a restore, before the database serves: every erasure-ledger record newer than the backup is applied
// again. Erased subjects are erased again (found by their request, their user id, or their HMAC subject ref),
// purged tenants are purged again, and data keys are put under the current master key (the wrappings the
// ledger recorded at each rotation); a key the ledger does not carry was destroyed after the backup and stays
// destroyed. The restored database's operator log marks the restore as pending until this ran: `serve`
// refuses to start on a database restored without it (`causeloop restore --replay-only` finishes it).
import { logOperatorAction } from "../audit/operator-log.ts";
import { appendAudit } from "../audit/service.ts";
import type { Engine, Queryable, Tx } from "../db/engine.ts";
import { withTenant } from "../db/tenant.ts";
import { AppError } from "../errors.ts";
import { ERASURE_MAP } from "../governance/erasure-map.ts";
import { eraseSubject, subjectRef } from "../governance/rtbf.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { offboard } from "../tenancy/service.ts";
import type { Jwks } from "./manifest.ts";
import { readLedger, type LedgerEntry, type LedgerRecord } from "./ledger.ts";

export interface ReplayDeps {
  /** The backup directory holding the ledger. */
  dir: string;
  /** The audit key(s) the ledger is signed with. */
  keys: Jwks["keys"];
  /** The subject-ref key (the installation's rtbf.key), read when an erasure is to be replayed. */
  hmacKey: () => Promise<CryptoKey>;
  /** The current master key ring. */
  kek: Pick<KekProvider, "versions" | "currentVersion">;
  actor: string;
}

export interface ReplayResult {
  /** Records at or after this instant were applied (the backup's start). */
  since: string;
  backup_id: string | null;
  records: number;
  erased: { workspace_id: string; request_id: string; rows: number }[];
  purged: { slug: string; workspaces: number }[];
  keys_rewrapped: number;
  keys_destroyed: number;
  factors_rewrapped: number;
  factors_removed: number;
  /** Records with nothing left to apply (their workspace is not in this database). */
  skipped: number;
}

export const RESTORE_PENDING_ACTION = "backup.restored";
export const REPLAYED_ACTION = "erasure_ledger.replayed";

/** The email an erased subject had in this (restored) workspace, if any of its data is here. */
async function findSubject(
  tx: Tx,
  entry: Extract<LedgerEntry, { kind: "subject.erased" }>,
  hmacKey: () => Promise<CryptoKey>,
): Promise<string | null> {
  const [request] = await tx.query<{ subject_email: string | null }>(
    "select subject_email from rtbf_requests where workspace_id = $1 and id = $2",
    [entry.workspace_id, entry.request_id],
  );
  if (request?.subject_email) return request.subject_email;
  if (entry.user_id) {
    const [user] = await tx.query<{ email: string }>("select email from users where id = $1", [entry.user_id]);
    if (user) return user.email;
  }
  for (const rule of ERASURE_MAP.filter((r) => r.matches === "email" && !r.via)) {
    const values = await tx.query<{ v: string }>(
      `select distinct ${rule.column} as v from ${rule.table} where workspace_id = $1 and ${rule.column} is not null and ${rule.column} not like 'erased:%'`,
      [entry.workspace_id],
    );
    for (const { v } of values) if ((await subjectRef(await hmacKey(), v)) === entry.subject_ref) return v;
  }
  return null;
}

async function workspaceExists(db: Queryable, id: string): Promise<boolean> {
  return (await db.query("select 1 from workspaces where id = $1", [id])).length > 0;
}

/** Applies the records (in order) to the database the owner connection `db` reaches. */
export async function applyLedger(
  engine: Engine,
  records: LedgerRecord[],
  since: string,
  deps: Omit<ReplayDeps, "dir" | "keys">,
  backupId: string | null,
): Promise<ReplayResult> {
  const result: ReplayResult = {
    since,
    backup_id: backupId,
    records: 0,
    erased: [],
    purged: [],
    keys_rewrapped: 0,
    keys_destroyed: 0,
    factors_rewrapped: 0,
    factors_removed: 0,
    skipped: 0,
  };
  const versions = deps.kek.versions;
  for (const record of records.filter((r) => r.at >= since)) {
    result.records++;
    const entry = record.entry;
    if (entry.kind === "subject.erased") {
      if (!(await workspaceExists(engine, entry.workspace_id))) {
        result.skipped++;
        continue;
      }
      const rows = await withTenant(engine, entry.workspace_id, async (tx) => {
        const email = await findSubject(tx, entry, deps.hmacKey);
        const erased =
          email || entry.user_id
            ? await eraseSubject(tx, entry.workspace_id, email, entry.user_id, entry.subject_ref)
            : { results: [], accountDeleted: false };
        const total = erased.results.reduce((a, r) => a + r.rows, 0);
        await tx.query(
          `update rtbf_requests set status = 'completed', completed_at = $3, subject_email = null,
                  result = coalesce(result, '{}'::jsonb) || $4::jsonb
            where workspace_id = $1 and id = $2 and status <> 'completed'`,
          [entry.workspace_id, entry.request_id, record.at, JSON.stringify({ replayed: { ledger_seq: record.seq } })],
        );
        await appendAudit(tx, {
          workspaceId: entry.workspace_id,
          action: "rtbf.replayed",
          actorId: deps.actor,
          actorType: "operator",
          targetType: "rtbf_request",
          targetId: entry.request_id,
          after: { ledger_seq: record.seq, rows: total, account_deleted: erased.accountDeleted },
        });
        return total;
      });
      result.erased.push({ workspace_id: entry.workspace_id, request_id: entry.request_id, rows });
    } else if (entry.kind === "tenant.purged") {
      const [org] = await engine.query<{ slug: string }>("select slug from organizations where id = $1", [
        entry.organization_id,
      ]);
      if (!org) {
        result.skipped++;
        continue;
      }
      const purged = await offboard(engine, org.slug, "purge", deps.actor);
      result.purged.push({ slug: org.slug, workspaces: purged.workspace_ids?.length ?? 0 });
    } else {
      for (const dek of entry.deks) {
        const updated = await engine.query(
          `update workspace_keys set wrapped_dek = $3, kek_version = $4, rotated_at = now()
            where workspace_id = $1 and version = $2 and status <> 'destroyed' and not (kek_version = any($5::int[]))
          returning 1`,
          [dek.workspace_id, dek.version, dek.wrapped_dek, entry.kek_version, versions],
        );
        result.keys_rewrapped += updated.length;
      }
      for (const factor of entry.factors) {
        const updated = await engine.query(
          `update user_mfa_factors set secret_wrapped = $3, kek_version = $4
            where user_id = $1 and id = $2 and not (kek_version = any($5::int[])) returning 1`,
          [factor.user_id, factor.id, factor.secret_wrapped, entry.kek_version, versions],
        );
        result.factors_rewrapped += updated.length;
      }
    }
  }
  // Keys under a master key version that is gone, which no rotation record carried: destroyed after the
  // backup (a purge's crypto-shredding, a data key rotation). They stay destroyed; so do such MFA secrets.
  result.keys_destroyed = (
    await engine.query(
      `update workspace_keys set status = 'destroyed', destroyed_at = now(), wrapped_dek = ''
        where status <> 'destroyed' and not (kek_version = any($1::int[])) returning 1`,
      [versions],
    )
  ).length;
  result.factors_removed = (
    await engine.query("delete from user_mfa_factors where not (kek_version = any($1::int[])) returning 1", [versions])
  ).length;
  return result;
}

/**
 * The replay step of a restore (both engines): reads and checks the ledger (a tampered ledger stops the
 * restore: nothing is served from it), applies what is newer than the backup, and marks the restore replayed
 * in the restored database's operator log.
 */
export async function replayAfterRestore(
  engine: Engine,
  since: string,
  backupId: string | null,
  deps: ReplayDeps,
): Promise<ReplayResult> {
  const ledger = await readLedger(deps.dir, deps.keys);
  if (ledger.problems.length > 0)
    throw new AppError(
      "bad_request",
      `the erasure ledger in ${deps.dir} does not verify, nothing replayed: ${ledger.problems.join("; ")}`,
    );
  const result = await applyLedger(engine, ledger.records, since, deps, backupId);
  await logOperatorAction(engine, {
    action: REPLAYED_ACTION,
    actor: deps.actor,
    targetType: "backup",
    targetId: backupId ?? "point-in-time",
    after: { ...result },
  });
  return result;
}

/** The backup a restore left without its replay (serve refuses to start then), or none. */
export async function pendingReplay(db: Queryable): Promise<{ backup_id: string; since: string } | null> {
  const [row] = await db.query<{ pending: { backup_id: string; since: string } | null }>(
    "select restore_replay_pending() as pending",
  );
  return row?.pending ?? null;
}
