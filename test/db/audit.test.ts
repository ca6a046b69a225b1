// The audit trail: a per-workspace hash chain with signed checkpoints. Every kind of tampering by the owner
// (trigger disabled) is found with the first broken sequence number, in the database and offline.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendAudit } from "../../src/audit/service.ts";
import { createCheckpoint, verifyWorkspace } from "../../src/audit/trail.ts";
import { exportAudit } from "../../src/audit/export.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { withTenant } from "../../src/db/tenant.ts";
import type { Engine } from "../../src/db/engine.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant } from "../helpers/tenants.ts";
import { testSigner } from "../helpers/signer.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

async function append(engine: Engine, ws: string, n: number, from = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    await withTenant(engine, ws, (tx) =>
      appendAudit(tx, {
        workspaceId: ws,
        action: "issue.created",
        actorId: `usr_${i + from}`,
        actorType: "user",
        targetType: "issue",
        targetId: `iss_${i + from}`,
        after: { title: `Incident ${i + from} — ünïcode`, n: i },
        context: { traceId: `req_${i}`, ip: "203.0.113.7", userAgent: "test/1.0" },
      }),
    );
  }
}

/** A workspace with 12 rows, a checkpoint at 8 and 4 rows after it. */
async function chain(d: TestDb, signer: Signer) {
  const t = await createTenant(d.owner);
  await append(d.app, t.workspaceId, 8);
  await withTenant(d.app, t.workspaceId, (tx) => createCheckpoint(tx, t.workspaceId, signer));
  await append(d.app, t.workspaceId, 4, 8);
  return t.workspaceId;
}

const verify = (d: TestDb, ws: string, signer: Signer) =>
  withTenant(d.app, ws, (tx) => verifyWorkspace(tx, ws, signer));
const asOwner = async (d: TestDb, sql: string, params: unknown[] = []) => {
  await d.owner.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
  await d.owner.query(sql, params);
  await d.owner.exec("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only");
};

describeEngines("audit chain", (kind) => {
  test("a clean chain verifies, with its checkpoint", async () => {
    db = await createTestDb(kind);
    const signer = await testSigner();
    const ws = await chain(db, signer);
    const result = await verify(db, ws, signer);
    expect(result).toMatchObject({
      ok: true,
      rows: 12,
      first_seq: 1,
      last_seq: 12,
      checkpoints: 1,
      last_checkpoint_seq: 8,
      first_broken_seq: null,
    });
  });

  test("UPDATE and DELETE are rejected for every role, the owner included", async () => {
    db = await createTestDb(kind);
    const ws = await chain(db, await testSigner());
    expect(db.owner.query("update audit_log set action = 'x.y' where workspace_id = $1", [ws])).rejects.toThrow(
      /append-only/,
    );
    expect(db.owner.query("delete from audit_log where workspace_id = $1", [ws])).rejects.toThrow(/append-only/);
    expect(withTenant(db.app, ws, (tx) => tx.query("delete from audit_log"))).rejects.toThrow();
  });

  const cases: [string, (d: TestDb, ws: string) => Promise<void>, number][] = [
    [
      "an altered row",
      (d, ws) => asOwner(d, "update audit_log set action = 'issue.deleted' where workspace_id = $1 and seq = 5", [ws]),
      5,
    ],
    ["a deleted row", (d, ws) => asOwner(d, "delete from audit_log where workspace_id = $1 and seq = 7", [ws]), 7],
    [
      "an inserted row",
      (d, ws) =>
        asOwner(
          d,
          "insert into audit_log (workspace_id, id, seq, action, actor_type, prev_hash, hash) select workspace_id, 'aud_forged', 13, 'issue.created', 'user', hash, repeat('0', 64) from audit_log where workspace_id = $1 and seq = 12",
          [ws],
        ),
      13,
    ],
    [
      "two rows swapped",
      async (d, ws) => {
        for (const [from, to] of [
          [3, 1000],
          [4, 3],
          [1000, 4],
        ])
          await asOwner(d, "update audit_log set seq = $2 where workspace_id = $1 and seq = $3", [ws, to, from]);
      },
      3,
    ],
    [
      "deleted rows at the end",
      (d, ws) => asOwner(d, "delete from audit_log where workspace_id = $1 and seq >= 6", [ws]),
      6,
    ],
  ];
  for (const [name, tamper, seq] of cases) {
    test(`${name} is found at seq ${seq}`, async () => {
      db = await createTestDb(kind);
      const signer = await testSigner();
      const ws = await chain(db, signer);
      await tamper(db, ws);
      const result = await verify(db, ws, signer);
      expect(result.ok).toBe(false);
      expect(result.first_broken_seq).toBe(seq);
    });
  }

  test("a rewritten history with recomputed hashes is caught by the signed checkpoint", async () => {
    db = await createTestDb(kind);
    const signer = await testSigner();
    const ws = await chain(db, signer);
    // The attacker alters row 2 and recomputes every hash after it, so the chain links are consistent again.
    await asOwner(db, "update audit_log set actor_id = 'usr_attacker' where workspace_id = $1 and seq = 2", [ws]);
    const rows = await db.owner.query<{ seq: number }>(
      "select seq::int as seq from audit_log where workspace_id = $1 and seq >= 2 order by seq",
      [ws],
    );
    for (const { seq } of rows) {
      await asOwner(
        db,
        `update audit_log a set prev_hash = p.hash, hash = encode(sha256(convert_to(coalesce(p.hash, '') || audit_canonical(a), 'UTF8')), 'hex')
                          from audit_log p where a.workspace_id = $1 and a.seq = $2 and p.workspace_id = a.workspace_id and p.seq = a.seq - 1`,
        [ws, seq],
      );
      await asOwner(
        db,
        `update audit_log a set hash = encode(sha256(convert_to(coalesce(a.prev_hash, '') || audit_canonical(a), 'UTF8')), 'hex') where a.workspace_id = $1 and a.seq = $2`,
        [ws, seq],
      );
    }
    const result = await verify(db, ws, signer);
    expect(result.ok).toBe(false);
    expect(result.first_broken_seq).toBe(8);
    expect(result.reason).toContain("signed checkpoint");
  });

  test("concurrent writers in one workspace produce a gapless, valid chain", async () => {
    db = await createTestDb(kind);
    const signer = await testSigner();
    const t = await createTenant(db.owner);
    const d = db;
    await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        withTenant(d.app, t.workspaceId, (tx) =>
          appendAudit(tx, {
            workspaceId: t.workspaceId,
            action: "issue.created",
            actorId: `usr_${i}`,
            actorType: "user",
          }),
        ),
      ),
    );
    const seqs = (
      await db.owner.query<{ seq: number }>(
        "select seq::int as seq from audit_log where workspace_id = $1 order by seq",
        [t.workspaceId],
      )
    ).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect((await verify(db, t.workspaceId, signer)).ok).toBe(true);
  });

  test("an export verifies offline with the script, and a tampered export does not", async () => {
    db = await createTestDb(kind);
    const signer = await testSigner();
    const ws = await chain(db, signer);
    const dir = mkdtempSync(join(tmpdir(), "causeloop-audit-"));
    try {
      const file = join(dir, "audit.ndjson");
      expect(await exportAudit(db.owner, signer, ws, file)).toMatchObject({ rows: 12, checkpoints: 1 });
      const script = join(import.meta.dir, "..", "..", "scripts", "verify-audit-export.ts");
      const run = (path: string) => {
        const p = Bun.spawnSync(["bun", script, path]);
        return {
          code: p.exitCode,
          out: JSON.parse(p.stdout.toString()) as { ok: boolean; first_broken_seq?: number; rows?: number },
        };
      };
      expect(run(file)).toEqual({ code: 0, out: expect.objectContaining({ ok: true, rows: 12 }) });
      const tampered = readFileSync(file, "utf8").replace('"actor_id":"usr_3"', '"actor_id":"usr_9"');
      writeFileSync(join(dir, "tampered.ndjson"), tampered);
      expect(run(join(dir, "tampered.ndjson"))).toEqual({
        code: 1,
        out: expect.objectContaining({ ok: false, first_broken_seq: 4 }),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("appends in different workspaces do not wait for each other (PostgreSQL)", async () => {
  db = await createTestDb("postgres");
  const a = await createTenant(db.owner);
  const b = await createTenant(db.owner);
  const d = db;
  let releaseA: () => void = () => {};
  const holdA = new Promise<void>((resolve) => {
    releaseA = resolve;
  });
  let aAppended: () => void = () => {};
  const aStarted = new Promise<void>((resolve) => {
    aAppended = resolve;
  });
  const slowA = withTenant(d.app, a.workspaceId, async (tx) => {
    await appendAudit(tx, { workspaceId: a.workspaceId, action: "issue.created", actorId: "usr_a", actorType: "user" });
    aAppended();
    await holdA; // A's append lock is held until this transaction ends
  });
  await aStarted;
  const started = performance.now();
  await withTenant(d.app, b.workspaceId, (tx) =>
    appendAudit(tx, { workspaceId: b.workspaceId, action: "issue.created", actorId: "usr_b", actorType: "user" }),
  );
  const bDone = performance.now() - started;
  // B finished while A still holds its lock: had B waited, it could not have completed before releaseA().
  releaseA();
  await slowA;
  expect(bDone).toBeGreaterThanOrEqual(0);
  const bRows = await db.owner.query<{ n: number }>(
    "select count(*)::int as n from audit_log where workspace_id = $1",
    [b.workspaceId],
  );
  expect(bRows[0]?.n).toBe(1);
});
