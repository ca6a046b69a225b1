// Verified backups on the embedded engine: a round trip through an encrypted, signed backup restores exactly
// what the manifest promises; a changed file, a changed manifest and the wrong master key each fail verify
// with their reason; a killed run leaves nothing listed and the next run cleans up after it.
// (PostgreSQL: test/db/backup-postgres.test.ts.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyEverything } from "../../src/audit/all-chains.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { createBackup, snapshotFacts, type BackupResult } from "../../src/backups/create.ts";
import { readManifest, signManifest } from "../../src/backups/manifest.ts";
import { pendingReplay } from "../../src/backups/replay.ts";
import { restoreBackup } from "../../src/backups/restore.ts";
import { listBackups } from "../../src/backups/store.ts";
import { verifyBackup, type VerifyDeps } from "../../src/backups/verify.ts";
import { openPglite } from "../../src/db/engine.ts";
import type { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import {
  addIssue as addIssueTo,
  copyBackup,
  expectSealedAndLogged,
  noErasures,
  randomRing,
  tamperingTests,
} from "../helpers/backups.ts";
import { testSigner } from "../helpers/signer.ts";

describe("backups [pglite]", () => {
  let db: TestDb;
  let signer: Signer;
  let kek: LocalKeyRing;
  let tenants: OnboardResult[];
  let backup: BackupResult;
  const work = mkdtempSync(join(tmpdir(), "causeloop-backup-"));
  const dir = join(work, "backups");
  const deps = (): VerifyDeps => ({ dir, kek, keys: [signer.publicJwk], keySource: "test" });

  const addIssue = (t: OnboardResult, title: string) => addIssueTo(db.owner, t, title);

  beforeAll(async () => {
    db = await createTestDb("pglite");
    signer = await testSigner();
    kek = randomRing();
    tenants = [
      await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek),
      await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, kek),
    ];
    for (const t of tenants) for (const n of [1, 2, 3]) await addIssue(t, `${t.workspace_id} issue ${n}`);
    backup = await createBackup(db.owner, { dir, kek, signer, actor: "operator:test" });
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  test("a backup is encrypted, signed, listed and recorded in the operator log", async () => {
    expect(backup.id).toMatch(/^bkp_[0-9a-z]{26}$/);
    expect(listBackups(dir).map((b) => b.id)).toEqual([backup.id]);
    const { manifest } = readManifest(backup.manifest);
    expect(manifest.tables.issues).toBe(6);
    expect(manifest.audit_heads.map((h) => h.stream).sort()).toEqual(
      [...tenants.map((t) => t.workspace_id), "operator"].sort(),
    );
    expect(manifest.key.kek_version).toBe(kek.currentVersion);
    // The snapshot is a gzipped tarball underneath; the file on disk is not.
    const head = readFileSync(backup.data_file).subarray(0, 2);
    expect(head[0] === 0x1f && head[1] === 0x8b).toBe(false);
    await expectSealedAndLogged(db.owner, backup);
  });

  test("verify passes on an intact backup", async () => {
    const report = await verifyBackup(backup.id, deps());
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toContain("doctor: tenant tables protected");
    expect(readdirSync(dir).filter((n) => n.startsWith(".scratch"))).toEqual([]);
  });

  test("round trip: change things, restore into a fresh dir, get exactly the manifest's database", async () => {
    await addIssue(tenants[0] as OnboardResult, "after the backup");
    const target = join(work, "restored");
    const result = await restoreBackup(
      backup.id,
      { ...deps(), actor: "operator:test", keysFrom: join(work, "no-keys-here"), hmacKey: noErasures },
      { target, force: false },
    );
    expect(result.verification.ok).toBe(true);
    expect(result.moved_aside).toBeUndefined();
    const restored = await openPglite(target);
    try {
      const { manifest } = readManifest(backup.manifest);
      const facts = await snapshotFacts(restored);
      // The restore and its ledger replay are the two entries added, in the restored database's operator log.
      const counts: Record<string, number> = { ...facts.tables, operator_log: (facts.tables.operator_log ?? 0) - 2 };
      expect(counts).toEqual(manifest.tables);
      expect(facts.audit_heads.filter((h) => h.stream !== "operator")).toEqual(
        manifest.audit_heads.filter((h) => h.stream !== "operator"),
      );
      const ops = await restored.query<{ action: string; seq: number }>(
        "select action, seq::float8 as seq from operator_log order by seq desc limit 2",
      );
      const opHead = manifest.audit_heads.find((h) => h.stream === "operator");
      expect(ops).toEqual([
        { action: "erasure_ledger.replayed", seq: (opHead?.seq ?? 0) + 2 },
        { action: "backup.restored", seq: (opHead?.seq ?? 0) + 1 },
      ]);
      expect(await pendingReplay(restored)).toBeNull();
      const titles = await restored.query<{ title: string }>(
        "select title from issues where title = 'after the backup'",
      );
      expect(titles).toEqual([]);
      const verified = await verifyEverything(restored, signer);
      expect(JSON.stringify(verified)).not.toContain('"ok":false');
    } finally {
      await restored.close();
    }
    // A non-empty target is refused without --force; with it, the old one is moved aside, not deleted.
    const again = { ...deps(), actor: "operator:test", keysFrom: work, hmacKey: noErasures };
    await expect(restoreBackup(backup.id, again, { target, force: false })).rejects.toThrow("is not empty");
    const forced = await restoreBackup(backup.id, again, { target, force: true });
    expect(forced.moved_aside).toBeDefined();
    expect(existsSync(join(forced.moved_aside as string, "pgdata", "PG_VERSION"))).toBe(true);
  });

  tamperingTests(() => ({ backup, work, deps: deps() }));

  test("a manifest that promises other counts (validly signed) fails verify: counts differ", async () => {
    const copy = copyBackup(backup, work, "wrong-counts");
    const { manifest } = readManifest(copy.manifest);
    manifest.tables.issues = 99;
    writeFileSync(copy.manifest, JSON.stringify(await signManifest(manifest, signer)));
    const report = await verifyBackup(copy.manifest, deps());
    expect(report.ok).toBe(false);
    expect(report.problems.join()).toContain("counts differ: issues: manifest 99, backup 6");
  });

  test("another master key does not open the backup: wrong key", async () => {
    const report = await verifyBackup(backup.id, { ...deps(), kek: randomRing() });
    expect(report.ok).toBe(false);
    expect(report.problems.join()).toContain("wrong key");
  });

  test("a killed run leaves no listed backup; the next run removes its files and succeeds", async () => {
    const dead = Bun.spawnSync(["true"]).pid;
    const id = "bkp_01jd0000000000000000000000";
    const other = "bkp_01jd0000000000000000000001";
    writeFileSync(join(dir, `${id}.clbk.${dead}.partial`), "half");
    writeFileSync(join(dir, `${id}.manifest.json.${dead}.partial`), "{}");
    writeFileSync(join(dir, `${other}.clbk`), "renamed, but its manifest never was");
    expect(listBackups(dir).map((b) => b.id)).toEqual([backup.id]);
    const next = await createBackup(db.owner, { dir, kek, signer, actor: "operator:test" });
    expect(next.removed_leftovers.sort()).toEqual(
      [`${id}.clbk.${dead}.partial`, `${id}.manifest.json.${dead}.partial`, `${other}.clbk`].sort(),
    );
    expect(listBackups(dir).map((b) => b.id)).toEqual([backup.id, next.id]);
    expect(readdirSync(dir).filter((n) => n.includes("partial"))).toEqual([]);
  });
});
