// The nightly `audit.verify` job as `serve` schedules it, on both engines. With an owner connection (the embedded
// engine; DATABASE_OWNER_URL on PostgreSQL) it verifies every chain and the operator log there; without one (the
// standard PostgreSQL deployment: `causeloop setup` keeps no owner URL) it verifies every workspace's chain as the
// runtime role, each under its own RLS (migration 0045 lists them), and reports the operator log as not verified.
// It used to fail on PostgreSQL with "permission denied for table operator_log_checkpoints" and verify nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Signer } from "../../src/audit/signing.ts";
import type { Engine } from "../../src/db/engine.ts";
import { scheduledJobs } from "../../src/jobs/registry.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

const work = mkdtempSync(join(tmpdir(), "causeloop-sverify-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeEngines("scheduled audit verification", (kind) => {
  let db: TestDb;
  let signer: Signer;
  let workspaceId: string;

  beforeAll(async () => {
    db = await createTestDb(kind);
    signer = await testSigner();
    const ring = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    const made = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" }, ring);
    workspaceId = made.workspace_id as string;
  });
  afterAll(async () => db?.dispose());

  const verifyJob = (owner: ((fn: (e: Engine) => Promise<unknown>) => Promise<unknown>) | undefined) => {
    const jobs = scheduledJobs(
      db.app,
      { ...db.config, auditAnchorFile: join(work, `${kind}-anchors.jsonl`), backupDir: join(work, `${kind}-b`) },
      async () => ({ hmacKey: undefined as unknown as CryptoKey, signer }),
      undefined as never,
      {
        kek: async () => {
          throw new Error("not used");
        },
        signer: async () => signer,
        owner: owner as never,
      },
    );
    const job = jobs.find((j) => j.name === "audit.verify");
    if (!job) throw new Error("no audit.verify job");
    return job;
  };

  test("with an owner connection: every chain and the operator log are verified", async () => {
    const result = (await verifyJob((fn) => fn(db.owner)).run()) as Record<string, unknown>;
    expect(result).toEqual({ chains: 1, broken: 0, operator_log_verified: 1, operator_log_broken: 0 });
  });

  test("without one, as the runtime role: every chain verified, the operator log reported as not verified", async () => {
    const result = (await verifyJob(undefined).run()) as Record<string, unknown>;
    expect(result).toEqual({ chains: 1, broken: 0, operator_log_verified: 0, operator_log_broken: 0 });
  });

  test("a broken chain is still found and counted", async () => {
    // Tampering as the owner with the append-only trigger out of the way, as an attacker with DDL rights would.
    await db.owner.transaction(async (tx) => {
      await tx.query("alter table audit_log disable trigger user");
      await tx.query("update audit_log set actor_id = 'operator:someone-else' where workspace_id = $1 and seq = 1", [
        workspaceId,
      ]);
      await tx.query("alter table audit_log enable trigger user");
    });
    for (const owner of [(fn: (e: Engine) => Promise<unknown>) => fn(db.owner), undefined]) {
      const result = (await verifyJob(owner).run()) as Record<string, unknown>;
      expect(result).toMatchObject({ chains: 1, broken: 1, operator_log_broken: 0 });
    }
  });
});
