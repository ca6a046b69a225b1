// The SOC 2 evidence pack on a populated installation: it verifies, it fails verification after any byte of
// any file changes, its pages render with no external asset, and it carries no secret.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onboard } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { attestIsolation } from "../../src/security/attestation.ts";
import { buildEvidence, verifyEvidence, writeEvidence } from "../../src/security/evidence.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

describeEngines("evidence pack", (kind) => {
  let db: TestDb;
  let signer: Signer;
  let files: Map<string, Uint8Array>;
  let pack: Uint8Array;
  const dir = mkdtempSync(join(tmpdir(), "causeloop-evidence-"));

  beforeAll(async () => {
    db = await createTestDb(kind);
    signer = await testSigner();
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    const acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    await onboard(db.owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, kek);
    const d = db;
    await attestIsolation(d.app, (fn) => fn(d.owner), signer);
    // Alerts of the period: a workspace's, acknowledged; the operator's, open for eight days.
    await d.owner.query(
      `insert into security_alerts (workspace_id, id, rule, summary, dedup_key, status, acknowledged_by, acknowledged_at, ack_note)
       values ($1, 'alr_01jd0000000000000000000001', 'new_owner', 'a member was made owner', 'k1', 'acknowledged', 'usr_x', now(), 'expected')`,
      [acme.workspace_id],
    );
    await d.owner.query(
      `insert into operator_alerts (id, rule, summary, dedup_key, first_seen_at, last_seen_at)
       values ('alr_01jd0000000000000000000002', 'audit_verification_failed', 'a chain broke', 'k2', now() - interval '8 days', now())`,
    );
    files = await buildEvidence(db.owner, db.config, signer, {
      from: new Date(Date.now() - 86_400_000),
      to: new Date(Date.now() + 60_000),
      env: { DATABASE_URL: "postgres://causeloop_app:hunter2-secret@db/x", CAUSELOOP_PORT: "9090" },
    });
    await writeEvidence(files, join(dir, "pack.tar.gz"));
    pack = await Bun.file(join(dir, "pack.tar.gz")).bytes();
  });
  afterAll(async () => {
    await db.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the pack verifies, maps each criterion to its checks, and holds no secret", async () => {
    expect(await verifyEvidence(pack)).toMatchObject({ ok: true, problems: [] });
    expect(await verifyEvidence(pack, { keys: [signer.publicJwk] })).toMatchObject({ ok: true });
    const controls = JSON.parse(new TextDecoder().decode(files.get("controls.json"))) as {
      id: string;
      checks: { what: string; result: string }[];
    }[];
    expect(controls.map((c) => c.id)).toEqual(["CC6.1", "CC6.2", "CC7.2", "CC7.3", "CC8.1", "C1.1", "A1.2", "P4-P8"]);
    expect(controls.find((c) => c.id === "CC7.3")?.checks[0]).toMatchObject({
      result: "fail",
      detail: "2 alerts in the period (1 the operator's), 1 open for over a week",
    });
    const alerts = JSON.parse(new TextDecoder().decode(files.get("evidence/alerts.json"))) as {
      operator: { rule: string; status: string }[];
      workspaces: { workspace: string; rule: string; ack_note: string }[];
    };
    expect(alerts.operator).toMatchObject([{ rule: "audit_verification_failed", status: "open" }]);
    expect(alerts.workspaces).toMatchObject([
      { workspace: "acme/production", rule: "new_owner", ack_note: "expected" },
    ]);
    const isolation = controls.find((c) => c.id === "CC6.1")?.checks ?? [];
    expect(isolation.map((c) => c.result)).toEqual(["pass", "pass", "pass"]);
    expect(controls.find((c) => c.id === "A1.2")?.checks[0]?.result).toBe("not configured");
    const access = JSON.parse(new TextDecoder().decode(files.get("evidence/access.json"))) as { workspace: string }[];
    expect(access.map((a) => a.workspace)).toEqual(["acme/production", "globex/production"]);
    const everything = [...files.values()].map((b) => new TextDecoder().decode(b)).join("\n");
    expect(everything).not.toContain("hunter2-secret");
    expect(everything).toContain('"DATABASE_URL": "(set, redacted)"');
    // The pages stand alone: no script, no external stylesheet, image or link.
    for (const [path, bytes] of files)
      if (path.endsWith(".html")) {
        const html = new TextDecoder().decode(bytes);
        expect(html).not.toMatch(/<script|src=|href="https?:/);
      }
    expect(new TextDecoder().decode(files.get("index.html"))).toContain('href="controls/CC6.1.html"');
  });

  test("one changed byte in any file, or a foreign key, fails verification", async () => {
    for (const [path, bytes] of files) {
      const changed = new Map(files);
      const copy = new Uint8Array(bytes);
      const at = Math.floor(copy.length / 2);
      copy[at] = (copy[at] ?? 0) ^ 0x01;
      changed.set(path, copy);
      const tampered = await new Bun.Archive(Object.fromEntries(changed), { compress: "gzip" }).bytes();
      const verdict = await verifyEvidence(tampered);
      expect(verdict.ok, path).toBe(false);
    }
    const foreign = await testSigner();
    expect(await verifyEvidence(pack, { keys: [foreign.publicJwk] })).toMatchObject({ ok: false });
  });
});
