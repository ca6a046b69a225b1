// metrics_readout() (migration 0031): the runtime role, which RLS keeps out of every workspace's jobs and audit
// rows, gets their aggregates in one statement (counts, ages, chain ids) and nothing of their content.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withTenant, withoutTenant } from "../../src/db/tenant.ts";
import { enqueue } from "../../src/jobs/queue.ts";
import { databaseReadout } from "../../src/observability/readout.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { describeEngines, createTestDb, type TestDb } from "../helpers/db.ts";

describeEngines("metrics readout", (kind) => {
  let db: TestDb;
  let acme: string;
  let bravo: string;

  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = (await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "a@acme.example" })).workspace_id;
    bravo = (await onboard(db.owner, { slug: "bravo", name: "Bravo", adminEmail: "b@bravo.example" })).workspace_id;
  });
  afterAll(() => db.dispose());

  test("job depth per kind across workspaces: queued, running, and the oldest due one's wait", async () => {
    const secret = { note: "tenant payload that must not leak" };
    await withTenant(db.app, acme, (tx) => enqueue(tx, acme, "readout.a", secret));
    await withTenant(db.app, bravo, (tx) => enqueue(tx, bravo, "readout.a", secret));
    await withTenant(db.app, bravo, (tx) => enqueue(tx, bravo, "readout.b", secret));
    await db.owner.query("update jobs set run_at = now() - interval '2 minutes' where kind = 'readout.a'");
    // A retry waiting for its backoff is queued but not due; a claimed job is running.
    await db.owner.query("update jobs set run_at = now() + interval '5 minutes' where kind = 'readout.b'");
    await withTenant(db.app, acme, (tx) => enqueue(tx, acme, "readout.c", {}));
    await db.owner.query("update jobs set status = 'running' where kind = 'readout.c'");
    // The runtime role outside the door sees no job at all...
    expect(await withoutTenant(db.app, (tx) => tx.query("select * from jobs"))).toEqual([]);

    const readout = await databaseReadout(db.app);
    const jobs = Object.fromEntries(readout.jobs.map((j) => [j.kind, j]));
    expect(jobs["readout.a"]).toMatchObject({ queued: 2, running: 0 });
    expect(jobs["readout.a"]?.oldest_due_seconds).toBeGreaterThanOrEqual(119);
    expect(jobs["readout.b"]).toMatchObject({ queued: 1, running: 0, oldest_due_seconds: 0 });
    expect(jobs["readout.c"]).toMatchObject({ queued: 0, running: 1 });
    // ...and the readout carries aggregates only.
    expect(JSON.stringify(readout)).not.toContain("must not leak");
  });

  test("unsigned audit events per chain: a signed chain drops out, the operator log is always there", async () => {
    const readout = await databaseReadout(db.app);
    const chains = Object.fromEntries(readout.audit.map((c) => [c.chain, c]));
    expect(chains.operator).toBeDefined();
    // Onboarding audited both workspaces; nothing is signed in this database yet.
    expect(chains[acme]?.unsigned).toBeGreaterThan(0);
    expect(chains[bravo]?.unsigned).toBeGreaterThan(0);
    expect(chains[acme]?.oldest_unsigned_seconds).toBeGreaterThanOrEqual(0);

    const [head] = await db.owner.query<{ seq: string; hash: string }>(
      "select seq, hash from audit_log where workspace_id = $1 order by seq desc limit 1",
      [bravo],
    );
    await db.owner.query(
      "insert into audit_checkpoints (workspace_id, id, seq, hash, key_id, signature, signed_at) values ($1, 'ckp_readout', $2, $3, 'k', 's', 'now')",
      [bravo, head?.seq, head?.hash],
    );
    const after = await databaseReadout(db.app);
    expect(after.audit.map((c) => c.chain)).not.toContain(bravo);
    expect(after.audit.map((c) => c.chain)).toContain(acme);
  });

  test("the pool's counters: transactions holding every connection, one more waiting, then none", async () => {
    const { size } = db.app.poolStats();
    const release = Promise.withResolvers<void>();
    const started: Promise<void>[] = [];
    const holding = Array.from({ length: size + 1 }, () => {
      const entered = Promise.withResolvers<void>();
      started.push(entered.promise);
      return db.app.transaction(async () => {
        entered.resolve();
        await release.promise;
      });
    });
    await Promise.all(started.slice(0, size));
    await Bun.sleep(20);
    expect(db.app.poolStats()).toEqual({ size, inUse: size, waiting: 1 });
    release.resolve();
    await Promise.all(holding);
    expect(db.app.poolStats()).toEqual({ size, inUse: 0, waiting: 0 });
  });

  test("the scheduler's last success and failure per job", async () => {
    await db.app.query(
      `insert into scheduler_runs (id, job, slot, instance, outcome, finished_at) values
         ('run_r1', 'readout.job', '2026-01-01T00:00:00Z', 't', 'succeeded', '2026-01-01T00:01:00Z'),
         ('run_r2', 'readout.job', '2026-01-02T00:00:00Z', 't', 'failed', '2026-01-02T00:01:00Z'),
         ('run_r3', 'readout.job', '2026-01-03T00:00:00Z', 't', 'running', null)`,
    );
    const readout = await databaseReadout(db.app);
    expect(readout.scheduler.find((s) => s.job === "readout.job")).toEqual({
      job: "readout.job",
      last_success: Date.parse("2026-01-01T00:01:00Z") / 1000,
      last_failure: Date.parse("2026-01-02T00:01:00Z") / 1000,
    });
  });
});
