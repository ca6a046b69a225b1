// One purpose per server key, and a lost key never passes silently: a key file that signed checkpoints (or
// derived subject refs) that are still in the database is not regenerated; start-up refuses, naming the file.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadServerKeys } from "../../src/keys.ts";
import { checkpointOperatorLog } from "../../src/audit/operator-log.ts";
import { submitRequest } from "../../src/governance/rtbf.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("server keys", (kind) => {
  let db: TestDb;
  const stateDir = mkdtempSync(join(tmpdir(), "causeloop-keys-"));
  const config = () => ({ ...db.config, dataDir: stateDir });
  beforeAll(async () => {
    db = await createTestDb(kind);
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test("each purpose has its own key: export links no longer reuse the access-token secret", async () => {
    const keys = await loadServerKeys(config(), db.app);
    expect(existsSync(join(stateDir, "export-link.key"))).toBe(true);
    expect(Buffer.from(keys.exportLinkKey).toString()).not.toBe(Buffer.from(keys.jwt.current).toString());
    expect(readFileSync(join(stateDir, "export-link.key"), "utf8").trim()).toBe(
      Buffer.from(keys.exportLinkKey).toString(),
    );
  });

  test("a deleted audit signing key is refused once a checkpoint signed by it exists, naming the file", async () => {
    const keys = await loadServerKeys(config(), db.app);
    await checkpointOperatorLog(db.owner, keys.signer);
    unlinkSync(join(stateDir, "audit-signing.key"));
    const error = await loadServerKeys(config(), db.app).catch((e: Error & { code?: string }) => e);
    expect(error).toMatchObject({ code: "config_invalid" });
    expect((error as Error).message).toContain(join(stateDir, "audit-signing.key"));
    expect(existsSync(join(stateDir, "audit-signing.key"))).toBe(false);
  });

  test("a deleted RTBF key is refused once subject refs made with it exist", async () => {
    const fresh = mkdtempSync(join(tmpdir(), "causeloop-keys-rtbf-"));
    // Signed checkpoints exist (previous test): a state dir without that audit key is refused, so this one gets
    // an audit key through the environment, as several instances sharing one PostgreSQL would.
    process.env.CAUSELOOP_AUDIT_SIGNING_KEY = generateKeyPairSync("ed25519")
      .privateKey.export({ format: "der", type: "pkcs8" })
      .toString("base64");
    try {
      const cfg = { ...db.config, dataDir: fresh };
      const acme = await onboard(db.owner, {
        slug: `keys-${kind}`,
        name: "Keys",
        adminEmail: `ops-${kind}@keys.example`,
      });
      const keys = await loadServerKeys(cfg, db.app);
      await withTenant(db.owner, acme.workspace_id, (tx) =>
        submitRequest(
          tx,
          keys.rtbf,
          { workspaceId: acme.workspace_id, actorId: "operator", actorType: "operator", context: {} },
          { email: "subject@keys.example" },
        ),
      );
      unlinkSync(join(fresh, "rtbf.key"));
      const error = await loadServerKeys(cfg, db.app).catch((e: Error) => e);
      expect((error as Error).message).toContain(join(fresh, "rtbf.key"));
      expect((error as Error).message).toContain("subject refs");
      expect(existsSync(join(fresh, "rtbf.key"))).toBe(false);
    } finally {
      delete process.env.CAUSELOOP_AUDIT_SIGNING_KEY;
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
