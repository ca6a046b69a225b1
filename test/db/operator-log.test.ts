// The operator log: migrations, role setup and offboarding recorded in a hash chain with signed checkpoints,
// invisible to the runtime role, append-only for the owner too, and tampering found at its first broken row.
import { afterEach, expect, test } from "bun:test";
import { checkpointOperatorLog, listOperatorLog, verifyOperatorLog } from "../../src/audit/operator-log.ts";
import { migrations } from "../../db/migrations/index.ts";
import { sha256Hex } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { APP_PASSWORD, createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";
import { createTenant } from "../helpers/tenants.ts";
import { testSigner } from "../helpers/signer.ts";

let db: TestDb | undefined;
afterEach(async () => {
  await db?.dispose();
  db = undefined;
});

const asOwner = async (d: TestDb, sql: string, params: unknown[] = []) => {
  await d.owner.exec("ALTER TABLE operator_log DISABLE TRIGGER operator_log_append_only");
  await d.owner.query(sql, params);
  await d.owner.exec("ALTER TABLE operator_log ENABLE TRIGGER operator_log_append_only");
};

const head = async (d: TestDb) =>
  Number((await d.owner.query<{ n: number }>("select coalesce(max(seq), 0)::int as n from operator_log"))[0]?.n);

describeEngines("operator log", (kind) => {
  test("every migration, a role setup and a purge are recorded, and the chain verifies under a checkpoint the runtime role signed", async () => {
    db = await createTestDb(kind);
    const d = db;
    const applied = await listOperatorLog(d.owner, { action: "migration.applied", limit: 1000 });
    expect(applied.map((r) => r.target_id).sort()).toEqual(migrations.map((m) => m.name));
    for (const m of migrations)
      expect((applied.find((r) => r.target_id === m.name)?.after as { sha256: string } | undefined)?.sha256).toBe(
        sha256Hex(m.sql),
      );

    const password = APP_PASSWORD; // roles are cluster-wide: other tests' databases log in with this one
    await setupAppRole(d.owner, { password, rotate: true, actor: "operator:alice" });
    const [setup] = await listOperatorLog(d.owner, { action: "role.setup", limit: 1 });
    expect(setup).toMatchObject({ actor_id: "operator:alice", target_id: "causeloop_app" });
    expect((setup?.after as { password_changed: boolean } | undefined)?.password_changed).toBe(kind === "postgres");
    const everything = JSON.stringify(await d.owner.query("select * from operator_log"));
    expect(everything).not.toContain(password);

    const tenant = await createTenant(d.owner, "doomed");
    await d.owner.query("select offboard_client('doomed', 'purge', 'operator:bob')");
    const [purged] = await listOperatorLog(d.owner, { action: "tenant.purged", limit: 1 });
    expect(purged).toMatchObject({
      actor_id: "operator:bob",
      target_type: "organization",
      target_id: tenant.organizationId,
    });
    expect((purged?.after as { slug: string; workspace_ids: string[] } | undefined)?.workspace_ids).toEqual([
      tenant.workspaceId,
    ]);

    const signer = await testSigner();
    // The server's checkpointer runs as the runtime role: it signs through the definer functions.
    const signed = await d.app.transaction((tx) => checkpointOperatorLog(tx, signer));
    expect(signed?.seq).toBe(await head(d));
    expect(await d.app.transaction((tx) => checkpointOperatorLog(tx, signer))).toBeUndefined(); // nothing new to sign
    const result = await verifyOperatorLog(d.owner, signer);
    expect(result).toMatchObject({
      ok: true,
      workspace_id: "operator",
      first_seq: 1,
      last_seq: await head(d),
      last_checkpoint_seq: await head(d),
      first_broken_seq: null,
    });
  });

  test("the runtime role can neither read nor write it, and the owner cannot change or remove a row", async () => {
    db = await createTestDb(kind);
    const d = db;
    const t = await createTenant(d.owner);
    for (const sql of [
      "select count(*) from operator_log",
      "select count(*) from operator_log_checkpoints",
      "insert into operator_log (id, seq, action, hash) values ('opl_x', 999, 'migration.applied', repeat('0', 64))",
      "select operator_log_append('migration.applied', 'x', null, null)",
    ]) {
      expect(withTenant(d.app, t.workspaceId, (tx) => tx.query(sql))).rejects.toThrow(/permission denied/);
    }
    expect(d.owner.query("update operator_log set actor_id = 'someone-else' where seq = 1")).rejects.toThrow(
      /append-only/,
    );
    expect(d.owner.query("delete from operator_log where seq = 1")).rejects.toThrow(/append-only/);
    expect(d.owner.exec("truncate operator_log")).rejects.toThrow(/append-only/);
  });

  const cases: [string, (d: TestDb) => Promise<void>, number][] = [
    ["an altered row", (d) => asOwner(d, "update operator_log set actor_id = 'operator:mallory' where seq = 3"), 3],
    ["a deleted row", (d) => asOwner(d, "delete from operator_log where seq = 4"), 4],
    [
      "a rewritten history with recomputed hashes",
      async (d) => {
        // Remove the tail and append a different history through the real function: every link is valid, but
        // the signed checkpoint no longer matches.
        const top = await head(d);
        await asOwner(d, "delete from operator_log where seq >= 5");
        for (let seq = 5; seq <= top + 1; seq++)
          await d.owner.query("select operator_log_append('migration.applied', 'operator:mallory', 'migration', $1)", [
            `forged_${seq}`,
          ]);
      },
      0,
    ],
  ];
  for (const [name, tamper, seq] of cases) {
    test(`${name} is found`, async () => {
      db = await createTestDb(kind);
      const d = db;
      const signer = await testSigner();
      await d.owner.transaction((tx) => checkpointOperatorLog(tx, signer));
      expect((await verifyOperatorLog(d.owner, signer)).ok).toBe(true);
      const checkpointSeq = await head(d);
      await tamper(d);
      const result = await verifyOperatorLog(d.owner, signer);
      expect(result.ok).toBe(false);
      expect(result.first_broken_seq).toBe(seq || checkpointSeq);
    });
  }
});
