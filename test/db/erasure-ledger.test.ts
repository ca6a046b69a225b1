// Erasures survive restores, on both engines (PGlite; PostgreSQL 15 with its pg_dump): a person erased and a
// tenant purged after a backup was taken are erased and
// purged again when that backup is restored, before anything is served from it; the purge's master-key
// rotation does not make the backup unopenable; a tampered ledger stops the restore.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyEverything } from "../../src/audit/all-chains.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { createBackup, type BackupResult } from "../../src/backups/create.ts";
import { erasureLedger, LEDGER_FILE, readLedger } from "../../src/backups/ledger.ts";
import { readManifest } from "../../src/backups/manifest.ts";
import { rewrappedKeyFile } from "../../src/backups/rekey.ts";
import { pendingReplay, replayAfterRestore } from "../../src/backups/replay.ts";
import { restoreBackup } from "../../src/backups/restore.ts";
import { restoreToDatabase } from "../../src/backups/restore-postgres.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPglite, openPostgres } from "../../src/db/engine.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { appendOperatorLog } from "../../src/audit/operator-log.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { approve, importHmacKey, submitRequest, type RtbfKeys } from "../../src/governance/rtbf.ts";
import { localStore } from "../../src/governance/storage.ts";
import { createIssue } from "../../src/issues/service.ts";
import { loadKeyRing, type LocalKeyRing } from "../../src/secrets/keyring.ts";
import { verifyKekMatches } from "../../src/secrets/rotation.ts";
import { offboardClient, onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";
import { eraseByApproval } from "../helpers/backups.ts";
import { pg15Missing, startPostgres15 } from "../helpers/postgres15-server.ts";

const SUBJECT = "jane.doe@example.com";

describe("erasure ledger [pglite]", () => {
  let db: TestDb;
  let signer: Signer;
  let ring: LocalKeyRing;
  let keys: RtbfKeys;
  let acme: OnboardResult;
  let globex: OnboardResult;
  let backup: BackupResult;
  let requestId: string;
  const work = mkdtempSync(join(tmpdir(), "causeloop-ledger-"));
  const dir = join(work, "backups");
  const hmacSecret = "ledger-test-rtbf-key";
  const actor = (t: OnboardResult) => ({
    workspaceId: t.workspace_id,
    actorId: t.user_id ?? "usr_test",
    actorType: "user" as const,
    context: {},
  });
  const restoreDeps = () => ({
    dir,
    kek: ring,
    keys: [signer.publicJwk],
    keySource: "test",
    actor: "operator:test",
    keysFrom: work,
    hmacKey: () => importHmacKey(hmacSecret),
  });

  beforeAll(async () => {
    db = await createTestDb("pglite");
    signer = await testSigner();
    ring = loadKeyRing({ env: {}, dataDir: work, embedded: true }); // a file-based ring: a purge rotates it
    keys = { hmacKey: await importHmacKey(hmacSecret), signer, ledger: erasureLedger(dir, signer) };
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, ring);
    globex = await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, ring);
    for (const [t, reporter] of [
      [acme, SUBJECT],
      [acme, "someone.else@example.com"],
      [globex, "ops@globex.com"],
    ] as const)
      await withTenant(db.owner, t.workspace_id, (tx) =>
        createIssue(tx, actor(t), {
          title: `reported by a customer of ${t.slug}`,
          severity: "high",
          reporter_email: reporter,
        }),
      );
    backup = await createBackup(db.owner, { dir, kek: ring, signer, actor: "operator:test" });
    // After the backup: Jane is erased from acme, globex is purged (which rotates the master key).
    const request = await withTenant(db.owner, acme.workspace_id, (tx) =>
      submitRequest(tx, keys, actor(acme), { email: SUBJECT }),
    );
    requestId = request.id;
    const store = localStore(join(work, "exports"), exportLinks(new Uint8Array(32), 15));
    await approve(db.owner, keys, store, actor(acme), requestId);
    await offboardClient(db.owner, "globex", "purge", "operator:test", async () => ring, { dir, signer });
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  test("the erasure, the purge and the key rotation are in the signed ledger, without the person's email", async () => {
    const ledger = await readLedger(dir, [signer.publicJwk]);
    expect(ledger.problems).toEqual([]);
    expect(ledger.records.map((r) => r.entry.kind)).toEqual(["subject.erased", "tenant.purged", "kek.rotated"]);
    expect(ledger.records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(readFileSync(join(dir, LEDGER_FILE), "utf8")).not.toContain(SUBJECT);
    // The purge dropped the master key version the backup was made under; the backup's key was carried over.
    expect(ring.versions).not.toContain(readManifest(backup.manifest).manifest.key.kek_version);
    expect(JSON.parse(readFileSync(join(dir, rewrappedKeyFile(backup.id)), "utf8")).key.kek_version).toBe(
      ring.currentVersion,
    );
  });

  test("restoring the earlier backup erases the person and purges the tenant again before it is put in place", async () => {
    const target = join(work, "restored");
    const result = await restoreBackup(backup.id, restoreDeps(), { target, force: false });
    expect(result.verification.ok).toBe(true);
    expect(result.replay.erased).toEqual([
      { workspace_id: acme.workspace_id, request_id: requestId, rows: expect.any(Number) },
    ]);
    expect(result.replay.erased[0]?.rows).toBeGreaterThan(0);
    expect(result.replay.purged).toEqual([{ slug: "globex", workspaces: 1 }]);
    const restored = await openPglite(target);
    try {
      const reporters = await restored.query<{ reporter_email: string | null }>(
        "select reporter_email from issues order by reporter_email",
      );
      expect(reporters.map((r) => r.reporter_email)).not.toContain(SUBJECT);
      expect(reporters.map((r) => r.reporter_email)).toContain("someone.else@example.com");
      expect(await restored.query("select 1 from organizations where slug = 'globex' and status <> 'purged'")).toEqual(
        [],
      );
      expect(await restored.query("select 1 from workspaces where id = $1", [globex.workspace_id])).toEqual([]);
      const [request] = await restored.query<{ status: string; subject_email: string | null }>(
        "select status, subject_email from rtbf_requests where id = $1",
        [requestId],
      );
      expect(request).toBeUndefined(); // the request was made after the backup: the replay erased without it
      // Every data key left opens with the current ring (the ledger's re-wrappings), so serve can start.
      await verifyKekMatches(restored, ring);
      expect(await pendingReplay(restored)).toBeNull();
      const verified = await verifyEverything(restored, signer);
      expect(JSON.stringify(verified)).not.toContain('"ok":false');
    } finally {
      await restored.close();
    }
  });

  test("a restore left pending is what serve refuses; the replay-only step clears it", async () => {
    const target = join(work, "pending");
    await restoreBackup(backup.id, restoreDeps(), { target, force: false });
    const restored = await openPglite(target);
    try {
      await restored.transaction((tx) =>
        appendOperatorLog(tx, {
          action: "backup.restored",
          actor: "operator:test",
          targetType: "backup",
          targetId: backup.id,
          after: { since: backup.started_at, replay: "pending" },
        }),
      );
      expect(await pendingReplay(restored)).toEqual({ backup_id: backup.id, since: backup.started_at });
      const again = await replayAfterRestore(restored, backup.started_at, backup.id, restoreDeps());
      // Applied twice, nothing more to do: the person and the tenant are already gone.
      expect(again.erased).toEqual([{ workspace_id: acme.workspace_id, request_id: requestId, rows: 0 }]);
      expect(again.purged).toEqual([]);
      expect(await pendingReplay(restored)).toBeNull();
    } finally {
      await restored.close();
    }
  });

  test("a tampered ledger stops the restore with the reason, and nothing is put in place", async () => {
    const path = join(dir, LEDGER_FILE);
    const original = readFileSync(path, "utf8");
    try {
      writeFileSync(path, original.replace('"kind":"tenant.purged"', '"kind":"tenant.purged","note":"x"'));
      await expect(
        restoreBackup(backup.id, restoreDeps(), { target: join(work, "tampered"), force: false }),
      ).rejects.toThrow("erasure ledger");
      writeFileSync(path, original.split("\n").slice(1).join("\n")); // the first line removed
      const read = await readLedger(dir, [signer.publicJwk]);
      expect(read.problems.join()).toContain("does not follow");
      writeFileSync(path, original);
      appendFileSync(path, "not json\n");
      expect((await readLedger(dir, [signer.publicJwk])).problems).toEqual(["line 4 is not JSON"]);
    } finally {
      writeFileSync(path, original);
    }
    expect(() => readFileSync(join(work, "tampered", "PG_VERSION"))).toThrow();
  });
});

const pg15 = pg15Missing();
if (pg15) console.warn(`SKIPPED: the PostgreSQL 15 erasure-replay test needs Debian's PostgreSQL 15: ${pg15}`);

describe.skipIf(Boolean(pg15))("erasure ledger [postgres 15, pg_dump 15]", () => {
  test("restoring an earlier PostgreSQL backup into an empty database erases the person and purges the tenant again", async () => {
    const server = await startPostgres15();
    const work = mkdtempSync(join(tmpdir(), "causeloop-ledger-pg-"));
    const dir = join(work, "backups");
    const signer = await testSigner();
    const ring = loadKeyRing({ env: {}, dataDir: work, embedded: true });
    const hmacSecret = "ledger-pg-test-rtbf-key";
    const live = await server.createDatabase("live");
    const owner = await openPostgres(parseDatabaseUrl(live.ownerUrl, "owner"), 4);
    try {
      const target = { owner: parseDatabaseUrl(live.ownerUrl, "owner"), binDir: undefined };
      const keys: RtbfKeys = { hmacKey: await importHmacKey(hmacSecret), signer, ledger: erasureLedger(dir, signer) };
      const acme = await onboard(owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, ring);
      await onboard(owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, ring);
      const actor = {
        workspaceId: acme.workspace_id,
        actorId: acme.user_id ?? "usr_test",
        actorType: "user" as const,
        context: {},
      };
      for (const reporter of [SUBJECT, "someone.else@example.com"])
        await withTenant(owner, acme.workspace_id, (tx) =>
          createIssue(tx, actor, { title: "checkout fails", severity: "high", reporter_email: reporter }),
        );
      const backup = await createBackup(owner, { dir, kek: ring, signer, actor: "operator:test", postgres: target });
      const requestId = await eraseByApproval(owner, keys, actor, SUBJECT, join(work, "exports"));
      await offboardClient(owner, "globex", "purge", "operator:test", async () => ring, { dir, signer });

      const url = await server.createEmptyDatabase("restored");
      const result = await restoreToDatabase(
        backup.id,
        {
          dir,
          kek: ring,
          keys: [signer.publicJwk],
          keySource: "test",
          postgres: target,
          actor: "operator:test",
          binDir: undefined,
          hmacKey: () => importHmacKey(hmacSecret),
        },
        { url, force: false },
      );
      expect(result.replay.erased.map((e) => e.request_id)).toEqual([requestId]);
      expect(result.replay.purged).toEqual([{ slug: "globex", workspaces: 1 }]);
      const restored = await openPostgres(parseDatabaseUrl(url, "owner"), 2);
      try {
        const reporters = (await restored.query<{ r: string }>("select reporter_email as r from issues")).map(
          (x) => x.r,
        );
        expect(reporters).toContain("someone.else@example.com");
        expect(reporters).not.toContain(SUBJECT);
        expect(await restored.query("select 1 from organizations where slug = 'globex'")).toEqual([]);
        await verifyKekMatches(restored, ring);
        expect(await pendingReplay(restored)).toBeNull();
      } finally {
        await restored.close();
      }
    } finally {
      await owner.close();
      await server.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 240_000);
});
