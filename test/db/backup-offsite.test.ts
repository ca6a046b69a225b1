// Backups copied off the machine to an S3-compatible bucket (s3rver, a real S3 emulator, serves it): the
// backup and the erasure ledger land in the bucket; on a machine that lost its backup directory, a backup
// named by id and the ledger come back from the bucket, and the restore replays the erasure made after it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Signer } from "../../src/audit/signing.ts";
import { createBackup, type BackupResult } from "../../src/backups/create.ts";
import { erasureLedger, LEDGER_FILE, readLedger } from "../../src/backups/ledger.ts";
import { copyOffsite, fetchOffsite, offsiteFor } from "../../src/backups/offsite.ts";
import { restoreBackup } from "../../src/backups/restore.ts";
import { manifestFileName } from "../../src/backups/store.ts";
import type { S3Bucket } from "../../src/config.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { approve, importHmacKey, submitRequest } from "../../src/governance/rtbf.ts";
import { localStore } from "../../src/governance/storage.ts";
import { createIssue } from "../../src/issues/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

const SUBJECT = "jane.doe@example.com";
const SECRET = "s3-secret-key-never-printed";

describe("backups off the machine [pglite, s3rver]", () => {
  let db: TestDb;
  let signer: Signer;
  let s3: { close(): Promise<void> };
  let bucket: S3Bucket;
  let backup: BackupResult;
  let acme: OnboardResult;
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const work = mkdtempSync(join(tmpdir(), "causeloop-offsite-"));
  const dir = join(work, "backups");
  const hmacSecret = "offsite-test-rtbf-key";

  beforeAll(async () => {
    const { default: S3rver } = await import("s3rver");
    const server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      directory: join(work, "s3"),
      silent: true,
      configureBuckets: [{ name: "backups", configs: [] }],
    });
    const { port } = await server.run();
    s3 = server;
    bucket = {
      bucket: "backups",
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      prefix: "causeloop/",
    };
    db = await createTestDb("pglite");
    signer = await testSigner();
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    const actor = { workspaceId: acme.workspace_id, actorId: acme.user_id ?? "usr_test", actorType: "user" as const };
    await withTenant(db.owner, acme.workspace_id, (tx) =>
      createIssue(
        tx,
        { ...actor, context: {} },
        { title: "checkout fails", severity: "high", reporter_email: SUBJECT },
      ),
    );
    backup = await createBackup(db.owner, { dir, kek, signer, actor: "operator:test" });
    // After the backup, an erasure: its ledger record goes to the bucket too.
    const keys = {
      hmacKey: await importHmacKey(hmacSecret),
      signer,
      ledger: erasureLedger(dir, signer, offsiteFor({ backupS3: bucket })),
    };
    const request = await withTenant(db.owner, acme.workspace_id, (tx) =>
      submitRequest(tx, keys, { ...actor, context: {} }, { email: SUBJECT }),
    );
    const store = localStore(join(work, "exports"), exportLinks(new Uint8Array(32), 15));
    await approve(db.owner, keys, store, { ...actor, context: {} }, request.id);
  });
  afterAll(async () => {
    await db.dispose();
    await s3.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("a backup is copied to the bucket, manifest last, and listed there", async () => {
    expect(await copyOffsite({ backupS3: bucket }, dir, backup.id)).toBe("s3://backups/causeloop/");
    const offsite = offsiteFor({ backupS3: bucket });
    expect(await offsite?.list()).toEqual([backup.id]);
    expect(await copyOffsite({ backupS3: undefined }, dir, backup.id)).toBeNull();
  });

  test("on a machine without the backup directory, restore by id fetches the backup and the ledger and replays the erasure", async () => {
    const fresh = join(work, "new-machine", "backups");
    await fetchOffsite({ backupS3: bucket }, fresh, backup.id);
    expect(existsSync(join(fresh, manifestFileName(backup.id)))).toBe(true);
    expect(await offsiteFor({ backupS3: bucket })?.pullLedger(fresh)).toBe("pulled");
    expect((await readLedger(fresh, [signer.publicJwk])).records.map((r) => r.entry.kind)).toEqual(["subject.erased"]);
    const result = await restoreBackup(
      backup.id,
      {
        dir: fresh,
        kek,
        keys: [signer.publicJwk],
        keySource: "test",
        actor: "operator:test",
        keysFrom: join(work, "new-machine"),
        hmacKey: () => importHmacKey(hmacSecret),
      },
      { target: join(work, "new-machine", "restored"), force: false },
    );
    expect(result.replay.erased.map((e) => e.rows)).toEqual([1]);
    // The local ledger is now the bucket's: pulling again changes nothing.
    expect(await offsiteFor({ backupS3: bucket })?.pullLedger(fresh)).toBe("local");
    expect(existsSync(join(fresh, LEDGER_FILE))).toBe(true);
  });

  test("an unreachable bucket fails the copy with the backup's place named and no credential in the message", async () => {
    const closed = { ...bucket, endpoint: "http://127.0.0.1:9", secretAccessKey: SECRET };
    const failure = await copyOffsite({ backupS3: closed }, dir, backup.id).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(`backup ${backup.id} is complete in ${dir}`);
    expect((failure as Error).message).not.toContain(SECRET);
  });
});
