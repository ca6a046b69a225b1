// Backup retention: a backup is pruned when it is older than CAUSELOOP_BACKUP_KEEP_DAYS (by the time it
// finished) AND not among the CAUSELOOP_BACKUP_KEEP_COUNT newest; the newest backup a restore drill passed on
// is never pruned. So at least KEEP_COUNT backups remain however old (a server down for weeks keeps its
// last good ones), and every backup younger than KEEP_DAYS remains however many there are.
// The manifest goes first (a backup exists once its manifest does: from then on it is no longer listed),
// then the data file; a run killed in between leaves a data file without manifest, which the next backup's
// removeLeftovers deletes. Each pruned backup is recorded in the operator log (`backup.pruned`).
import { rmSync } from "node:fs";
import { logOperatorAction } from "../audit/operator-log.ts";
import type { Engine } from "../db/engine.ts";
import type { Offsite } from "./offsite.ts";
import { rewrappedKeyFile } from "./rekey.ts";
import { dataFileName, listBackups, type BackupListing } from "./store.ts";
import { join, dirname } from "node:path";

export interface RetentionRule {
  keepDays: number;
  keepCount: number;
  now: Date;
  /** Backups never pruned whatever their age (the newest verified one). */
  protect?: (string | null | undefined)[];
}

export interface RetentionDecision {
  id: string;
  finished_at: string;
  age_days: number;
  /** Why it stays (the first reason that applies), or why it goes. */
  reason: string;
}

export interface PruneResult {
  directory: string;
  dry_run: boolean;
  kept: RetentionDecision[];
  pruned: RetentionDecision[];
}

const DAY = 86_400_000;

/** The rule on a listing (oldest first, as listBackups returns it): what stays and what goes, and why. */
export function retentionPlan(
  backups: Pick<BackupListing, "id" | "finished_at">[],
  rule: RetentionRule,
): Omit<PruneResult, "directory" | "dry_run"> {
  const newestFirst = [...backups].sort(
    (a, b) => b.finished_at.localeCompare(a.finished_at) || b.id.localeCompare(a.id),
  );
  const protect = new Set(rule.protect?.filter(Boolean));
  const kept: RetentionDecision[] = [];
  const pruned: RetentionDecision[] = [];
  newestFirst.forEach((b, index) => {
    const ageDays = Math.round(((rule.now.getTime() - Date.parse(b.finished_at)) / DAY) * 10) / 10;
    const decide = (reason: string) => ({ id: b.id, finished_at: b.finished_at, age_days: ageDays, reason });
    if (index < rule.keepCount) kept.push(decide(`among the ${rule.keepCount} newest`));
    else if (ageDays <= rule.keepDays) kept.push(decide(`younger than ${rule.keepDays} days`));
    else if (protect.has(b.id)) kept.push(decide("the newest backup a restore drill passed on"));
    else pruned.push(decide(`older than ${rule.keepDays} days and not among the ${rule.keepCount} newest`));
  });
  return { kept, pruned };
}

/** Applies the rule to the backup directory (with `dryRun`, only says what it would remove). */
export async function pruneBackups(
  engine: Engine,
  dir: string,
  rule: RetentionRule & { dryRun?: boolean; actor: string; offsite?: Pick<Offsite, "remove"> },
): Promise<PruneResult> {
  const listed = listBackups(dir);
  const plan = retentionPlan(listed, rule);
  const result = { directory: dir, dry_run: Boolean(rule.dryRun), ...plan };
  if (rule.dryRun) return result;
  const manifests = new Map(listed.map((b) => [b.id, b.manifest]));
  for (const decision of plan.pruned) {
    const manifest = manifests.get(decision.id) as string;
    rmSync(manifest, { force: true });
    rmSync(join(dirname(manifest), dataFileName(decision.id)), { force: true });
    rmSync(join(dirname(manifest), rewrappedKeyFile(decision.id)), { force: true });
    await rule.offsite?.remove(decision.id); // the bucket's copy follows the same rule
    await logOperatorAction(engine, {
      action: "backup.pruned",
      actor: rule.actor,
      targetType: "backup",
      targetId: decision.id,
      after: { finished_at: decision.finished_at, age_days: decision.age_days, reason: decision.reason },
    });
  }
  return result;
}
