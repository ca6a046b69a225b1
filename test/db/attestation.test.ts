// The isolation attestation: on a sound schema it passes, signed and recorded, and leaves nothing behind;
// with Row-Level Security disabled on one tenant table it fails naming the table, signed and recorded too.
import { listOperatorAlerts } from "../../src/security/alerts.ts";
import { afterEach, expect, test } from "bun:test";
import {
  attestationPayload,
  attestIsolation,
  lastAttestationCheck,
  type Attestation,
} from "../../src/security/attestation.ts";
import { withoutTenant } from "../../src/db/tenant.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { testSigner } from "../helpers/signer.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

async function recorded(d: TestDb, action: string): Promise<Attestation[]> {
  const rows = await d.owner.query<{ after: Attestation }>(
    "select after from operator_log where action = $1 order by seq",
    [action],
  );
  return rows.map((r) => r.after);
}

describeEngines("isolation attestation", (kind) => {
  test("a sound schema is attested: signed, in the operator log, and the canaries are gone", async () => {
    db = await createTestDb(kind);
    const d = db;
    const signer = await testSigner();
    const result = await attestIsolation(d.app, (fn) => fn(d.owner), signer);
    expect(result).toMatchObject({ ok: true, lint: [], violations: [] });
    expect(result.tables).toBeGreaterThanOrEqual(25);
    expect(await listOperatorAlerts(d.owner)).toEqual([]); // a sound schema raises nothing
    expect(result.probe_skipped).toBeUndefined();
    expect(await signer.verify(attestationPayload(result), result.signature)).toBe(true);
    const [logged] = await recorded(d, "isolation.attested");
    expect(logged?.signature).toBe(result.signature);
    // The signature still verifies from what the operator log kept (JSONB reorders keys).
    expect(await signer.verify(attestationPayload(logged as Attestation), (logged as Attestation).signature)).toBe(
      true,
    );
    const canaries = await d.owner.query("select 1 from organizations where slug like 'attestation-canary-%'");
    expect(canaries).toEqual([]);
    // doctor (and the console) read it as the runtime role.
    const check = await withoutTenant(d.app, (tx) => lastAttestationCheck(tx));
    expect(check).toMatchObject({ name: "isolation attestation", ok: true });
    expect(check.detail).toMatch(/^passed at .* tables probed\)$/);
  });

  test("RLS disabled on one tenant table: the attestation fails, naming it, and is recorded signed", async () => {
    db = await createTestDb(kind);
    const d = db;
    const signer = await testSigner();
    await d.owner.exec("ALTER TABLE issues NO FORCE ROW LEVEL SECURITY; ALTER TABLE issues DISABLE ROW LEVEL SECURITY");
    const result = await attestIsolation(d.app, (fn) => fn(d.owner), signer);
    expect(result.ok).toBe(false);
    expect(result.lint.some((l) => l.startsWith("table issues"))).toBe(true);
    expect(result.violations).toContain("issues: inside A, SELECT sees 1 of B's rows");
    expect(result.violations.every((v) => v.startsWith("issues: "))).toBe(true);
    const [logged] = await recorded(d, "isolation.attestation_failed");
    expect(logged?.violations).toEqual(result.violations);
    const check = await withoutTenant(d.app, (tx) => lastAttestationCheck(tx));
    expect(check.ok).toBe(false);
    expect(check.detail).toContain("issues: inside A, SELECT sees 1 of B's rows");
    expect(await signer.verify(attestationPayload(logged as Attestation), (logged as Attestation).signature)).toBe(
      true,
    );
    // The operator alert: open and naming the table; counted again while it fails; resolved once it passes.
    const [alert] = await listOperatorAlerts(d.owner);
    expect(alert).toMatchObject({ rule: "isolation_attestation_failed", severity: "critical", status: "open" });
    expect(alert?.summary).toContain("issues");
    await attestIsolation(d.app, (fn) => fn(d.owner), signer);
    expect(await listOperatorAlerts(d.owner)).toMatchObject([{ id: alert?.id, occurrences: 2, status: "open" }]);
    await d.owner.exec("ALTER TABLE issues ENABLE ROW LEVEL SECURITY; ALTER TABLE issues FORCE ROW LEVEL SECURITY");
    expect((await attestIsolation(d.app, (fn) => fn(d.owner), signer)).ok).toBe(true);
    expect(await listOperatorAlerts(d.owner)).toMatchObject([{ id: alert?.id, status: "resolved" }]);
  });

  test("without an owner connection only the catalog is checked, and it says so", async () => {
    db = await createTestDb(kind);
    const result = await attestIsolation(db.app, undefined, await testSigner());
    expect(result).toMatchObject({ ok: true, tables: null });
    expect(result.probe_skipped).toContain("DATABASE_OWNER_URL");
  });
});
