// `causeloop restore`: verifies the backup (signature, sha256, key, then the opened copy against its
// manifest) while restoring it into a new directory beside the target, then renames that into place. With
// --force an existing target is moved aside, never deleted. The key files the restored database needs (the
// master key ring and the server keys, when they live in the current data dir) are copied with it: a backup
// holds none of them.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileAnchorStore } from "../audit/anchors.ts";
import { readLockHolder } from "../db/lock.ts";
import { AppError } from "../errors.ts";
import { SERVER_KEY_FILES } from "../keys.ts";
import { MASTER_KEY_FILE } from "../secrets/keyring.ts";
import { afterRestore } from "./after-restore.ts";
import type { SignedManifest } from "./manifest.ts";
import type { ReplayDeps, ReplayResult } from "./replay.ts";
import { processAlive } from "./store.ts";
import { openBackup, type VerifyDeps, type VerifyReport } from "./verify.ts";

export interface RestoreResult {
  id: string;
  data_dir: string;
  /** Where the directory that was there before went (with --force). */
  moved_aside: string | undefined;
  copied_keys: string[];
  /** Anchored checkpoints carried over (those the backup holds) and left out (signed after it was taken). */
  anchors: { kept: number; dropped: number } | undefined;
  verification: VerifyReport;
  /** The erasure ledger's records newer than the backup, applied before the copy was put in place. */
  replay: ReplayResult;
  seconds: number;
}

/**
 * The anchor file in the data dir, with only the checkpoints the backup's chains hold: an anchor signed after
 * the backup would make `audit verify` report the restored chain's end as a deleted tail.
 */
function carryAnchors(
  file: string,
  from: string,
  staging: string,
  signed: SignedManifest | undefined,
): { kept: number; dropped: number } | undefined {
  const inside = relative(resolve(from), resolve(file));
  if (!signed || !inside || inside.startsWith("..") || isAbsolute(inside) || !existsSync(file)) return undefined;
  return copyAnchorsUpTo(file, join(staging, inside), signed);
}

/** Copies the anchored checkpoints of `file` that the backup's chains hold into `to`. */
export function copyAnchorsUpTo(file: string, to: string, signed: SignedManifest): { kept: number; dropped: number } {
  const heads = new Map(signed.manifest.audit_heads.map((h) => [h.stream, h.seq]));
  const { anchors } = fileAnchorStore(file).read();
  const kept = anchors.filter((a) => a.seq <= (heads.get(a.stream) ?? 0));
  const store = fileAnchorStore(to);
  for (const anchor of kept) store.append(anchor);
  return { kept: kept.length, dropped: anchors.length - kept.length };
}

/** What a killed restore into the same target left beside it (a decrypted copy: never kept). */
function removeKilledRestores(target: string): void {
  const prefix = `.${basename(target)}.restoring-`;
  if (!existsSync(dirname(target))) return;
  for (const name of readdirSync(dirname(target))) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length)) : Number.NaN;
    if (Number.isInteger(pid) && (pid === process.pid || !processAlive(pid)))
      rmSync(join(dirname(target), name), { recursive: true, force: true });
  }
}

function nonEmpty(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}

export async function restoreBackup(
  ref: string,
  deps: VerifyDeps & {
    actor: string;
    keysFrom: string;
    anchorFile?: string;
    /** The subject-ref key, for erasures to replay. */
    hmacKey: ReplayDeps["hmacKey"];
  },
  options: { target: string; force: boolean },
): Promise<RestoreResult> {
  const started = performance.now();
  const target = resolve(options.target);
  if (readLockHolder(target))
    throw new AppError("conflict", `${target} is in use by a running causeloop (stop it before restoring over it)`);
  if (nonEmpty(target) && !options.force)
    throw new AppError(
      "conflict",
      `${target} is not empty: restore into a new directory, or add --force to move it aside`,
    );
  const staging = join(dirname(target), `.${basename(target)}.restoring-${process.pid}`);
  removeKilledRestores(target);
  try {
    const opened = await openBackup(ref, deps, staging);
    if (!opened.engine || !opened.report.ok) {
      await opened.engine?.close();
      throw new AppError(
        "bad_request",
        `backup ${opened.report.id ?? ref} did not verify, nothing restored: ${opened.report.problems.join("; ")}`,
      );
    }
    let replay: ReplayResult;
    try {
      ({ replay } = await afterRestore(opened.engine, opened.signed?.manifest, {
        actor: deps.actor,
        target: { data_dir: target },
        replay: { dir: deps.dir, keys: deps.keys, kek: deps.kek, hmacKey: deps.hmacKey, actor: deps.actor },
      }));
    } finally {
      await opened.engine.close();
    }
    const copied: string[] = [];
    for (const name of [MASTER_KEY_FILE, ...SERVER_KEY_FILES]) {
      const from = join(deps.keysFrom, name);
      if (!existsSync(from)) continue;
      copyFileSync(from, join(staging, name));
      copied.push(name);
    }
    const anchors = deps.anchorFile ? carryAnchors(deps.anchorFile, deps.keysFrom, staging, opened.signed) : undefined;
    let movedAside: string | undefined;
    if (existsSync(target) && nonEmpty(target)) {
      movedAside = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      renameSync(target, movedAside);
    } else if (existsSync(target)) rmSync(target, { recursive: true });
    renameSync(staging, target);
    // The backup directory inside the old data dir (the default) stays with the data dir in use.
    const inside = relative(target, resolve(deps.dir));
    if (movedAside && inside && !inside.startsWith("..") && !isAbsolute(inside)) {
      const from = join(movedAside, inside);
      if (existsSync(from) && !existsSync(join(target, inside))) {
        mkdirSync(dirname(join(target, inside)), { recursive: true, mode: 0o700 });
        renameSync(from, join(target, inside));
      }
    }
    return {
      id: opened.report.id ?? ref,
      data_dir: target,
      moved_aside: movedAside,
      copied_keys: copied,
      anchors,
      verification: opened.report,
      replay,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
