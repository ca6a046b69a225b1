// Verified backups on PostgreSQL: on Debian's PostgreSQL 15 with its own pg_dump 15 (started by this file), a
// round trip with two tenants restores exactly what the manifest promises into an empty database; a changed
// file or manifest fails verify with its reason; a non-empty target is refused without --force. Against the
// shared PostgreSQL 16 server, a pg_dump 15 is refused first with one clear line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { verifyEverything } from "../../src/audit/all-chains.ts";
import type { Signer } from "../../src/audit/signing.ts";
import { createBackup, snapshotFacts, type BackupResult } from "../../src/backups/create.ts";
import { readManifest } from "../../src/backups/manifest.ts";
import type { PostgresTarget } from "../../src/backups/postgres.ts";
import { restoreToDatabase } from "../../src/backups/restore-postgres.ts";
import { listBackups } from "../../src/backups/store.ts";
import { verifyBackup, type VerifyDeps } from "../../src/backups/verify.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres, type Engine } from "../../src/db/engine.ts";
import { doctor } from "../../src/db/system.ts";
import { APP_ROLE } from "../../src/db/tenant.ts";
import type { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { createTestDb } from "../helpers/db.ts";
import { PG15_BIN_DIR, pg15Missing, startPostgres15, type Postgres15 } from "../helpers/postgres15-server.ts";
import {
  addIssue as addIssueTo,
  expectSealedAndLogged,
  noErasures,
  randomRing,
  tamperingTests,
} from "../helpers/backups.ts";
import { testSigner } from "../helpers/signer.ts";

const missing = pg15Missing();
if (missing) console.warn(`SKIPPED: the PostgreSQL 15 backup tests need Debian's PostgreSQL 15: ${missing}`);

describe.skipIf(Boolean(missing))("backups [postgres 15, pg_dump 15]", () => {
  let server: Postgres15;
  let owner: Engine;
  let target: PostgresTarget;
  let signer: Signer;
  let kek: LocalKeyRing;
  let tenants: OnboardResult[];
  let backup: BackupResult;
  const work = mkdtempSync(join(tmpdir(), "causeloop-pgbackup-"));
  const dir = join(work, "backups");
  const deps = (): VerifyDeps => ({ dir, kek, keys: [signer.publicJwk], keySource: "test", postgres: target });
  const scratchDatabases = () =>
    owner.query<{ name: string }>(
      "select datname::text as name from pg_database where datname like 'causeloop_verify%'",
    );

  const addIssue = (t: OnboardResult, title: string) => addIssueTo(owner, t, title);

  beforeAll(async () => {
    server = await startPostgres15();
    const live = await server.createDatabase("live");
    owner = await openPostgres(parseDatabaseUrl(live.ownerUrl, "owner"), 4);
    target = { owner: parseDatabaseUrl(live.ownerUrl, "owner"), binDir: undefined };
    signer = await testSigner();
    kek = randomRing();
    tenants = [
      await onboard(owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek),
      await onboard(owner, { slug: "globex", name: "Globex", adminEmail: "ops@globex.com" }, kek),
    ];
    for (const t of tenants) for (const n of [1, 2, 3]) await addIssue(t, `${t.workspace_id} issue ${n}`);
    // PATH first: with Debian's pg_dump wrapper there, the tools are found without CAUSELOOP_PG_BIN_DIR.
    backup = await createBackup(owner, { dir, kek, signer, actor: "operator:test", postgres: target });
  }, 120_000);
  afterAll(async () => {
    await owner?.close();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("a backup is pg_dump's archive, encrypted, signed with the server's facts, listed and logged", async () => {
    expect(listBackups(dir).map((b) => b.id)).toEqual([backup.id]);
    const { manifest } = readManifest(backup.manifest);
    expect(manifest.engine).toBe("postgres");
    expect(manifest.cipher.plaintext).toBe("pg_dump-custom");
    expect(manifest.postgres?.server_version).toMatch(/^15\./);
    expect(manifest.postgres?.pg_dump_version).toMatch(/^15\./);
    expect(manifest.postgres?.globals.roles).toEqual([APP_ROLE]);
    expect(manifest.tables.issues).toBe(6);
    // The global reference data is a table of the database: in the dump, counted like the others.
    expect(manifest.tables.connector_catalogue).toBeGreaterThan(0);
    expect(manifest.audit_heads.map((h) => h.stream).sort()).toEqual(
      [...tenants.map((t) => t.workspace_id), "operator"].sort(),
    );
    const file = readFileSync(backup.data_file);
    expect(file.subarray(0, 5).toString()).not.toBe("PGDMP");
    await expectSealedAndLogged(owner, backup);
  });

  test("verify restores into a scratch database on the same server, checks it, and drops it", async () => {
    const report = await verifyBackup(backup.id, deps());
    expect(report.problems).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "row counts",
        "audit chain heads",
        "migration status",
        "doctor: tenant tables protected",
      ]),
    );
    expect(await scratchDatabases()).toEqual([]);
  }, 60_000);

  test("round trip: change things, restore into an empty database, get exactly the manifest's database", async () => {
    await addIssue(tenants[0] as OnboardResult, "after the backup");
    const url = await server.createEmptyDatabase("restored");
    const result = await restoreToDatabase(
      backup.id,
      { ...deps(), actor: "operator:test", binDir: PG15_BIN_DIR, hmacKey: noErasures },
      { url, force: false },
    );
    expect(result.verification.ok).toBe(true);
    expect(result.created_roles).toEqual([]);
    expect(result.app_role_password).toBeUndefined();
    const restored = await openPostgres(parseDatabaseUrl(url, "owner"), 2);
    try {
      const { manifest } = readManifest(backup.manifest);
      const facts = await snapshotFacts(restored);
      // The restore adds three entries to the restored operator log: the role's grants, the restore itself and
      // the erasure ledger's replay (none to apply here).
      const actions = await restored.query<{ action: string }>(
        "select action from operator_log order by seq desc limit 3",
      );
      expect(actions.map((a) => a.action)).toEqual(["erasure_ledger.replayed", "backup.restored", "role.setup"]);
      expect(result.replay.records).toBe(0);
      const counts: Record<string, number> = { ...facts.tables, operator_log: (facts.tables.operator_log ?? 0) - 3 };
      expect(counts).toEqual(manifest.tables);
      expect(facts.audit_heads.filter((h) => h.stream !== "operator")).toEqual(
        manifest.audit_heads.filter((h) => h.stream !== "operator"),
      );
      expect(await restored.query("select 1 from issues where title = 'after the backup'")).toEqual([]);
      const verified = await verifyEverything(restored, signer);
      expect(JSON.stringify(verified)).not.toContain('"ok":false');
      const health = await doctor(restored, { engineName: "restored", runtimeRole: APP_ROLE });
      expect(health.checks.filter((c) => !c.ok)).toEqual([]);
    } finally {
      await restored.close();
    }
    // A non-empty database is refused without --force; with it, its objects are replaced.
    const again = { ...deps(), actor: "operator:test", binDir: undefined, hmacKey: noErasures };
    await expect(restoreToDatabase(backup.id, again, { url, force: false })).rejects.toThrow(
      `database 127.0.0.1:${server.port}/restored is not empty: restore into a new, empty database, or add --force`,
    );
    const forced = await restoreToDatabase(backup.id, again, { url, force: true });
    expect(forced.replaced).toBe(true);
    expect(forced.verification.ok).toBe(true);
  }, 120_000);

  test("a scratch database a killed verify left on this host is dropped by the next verify", async () => {
    const dead = Bun.spawnSync(["true"]).pid;
    const name = `causeloop_verify_${dead}_killed`;
    await owner.exec(`create database ${name}`);
    await owner.exec(
      `comment on database ${name} is 'causeloop backup verify scratch copy: host=${hostname()} pid=${dead}'`,
    );
    await owner.exec("create database causeloop_verify_other_host");
    await owner.exec(`comment on database causeloop_verify_other_host is 'host=elsewhere pid=${dead}'`);
    expect((await verifyBackup(backup.id, deps())).ok).toBe(true);
    expect((await scratchDatabases()).map((d) => d.name)).toEqual(["causeloop_verify_other_host"]);
    await owner.exec("drop database causeloop_verify_other_host");
  }, 60_000);

  tamperingTests(
    () => ({ backup, work, deps: deps() }),
    async () => expect(await scratchDatabases()).toEqual([]),
  );

  test("onto a new server: the runtime role is created, given a password once, and can use the restored database", async () => {
    const other = await startPostgres15();
    try {
      const url = await other.createEmptyDatabase("fresh");
      const result = await restoreToDatabase(
        backup.id,
        { ...deps(), actor: "operator:test", binDir: PG15_BIN_DIR, hmacKey: noErasures },
        { url, force: false },
      );
      expect(result.created_roles).toEqual([APP_ROLE]);
      const password = result.app_role_password as string;
      expect(password.length).toBeGreaterThan(16);
      const runtime = await openPostgres(
        parseDatabaseUrl(`postgres://${APP_ROLE}:${password}@127.0.0.1:${other.port}/fresh`, "app"),
        1,
      );
      try {
        const [row] = await runtime.query<{ n: number }>("select count(*)::int as n from connector_catalogue");
        expect(row?.n).toBeGreaterThan(0);
        const problems = (await doctor(runtime, { engineName: "fresh", runtimeRole: "current_user" })).checks.filter(
          (c) => !c.ok,
        );
        expect(problems).toEqual([]);
      } finally {
        await runtime.close();
      }
    } finally {
      await other.stop();
    }
  }, 120_000);

  test("an owner role without the rights a step needs is refused with the grant to make; a password is never shown", async () => {
    const password = "limited-owner-secret-0123456789";
    await owner.exec(`create role limited_owner login password '${password}' nobypassrls nocreatedb`);
    const limitedUrl = new URL(server.superuserUrl("live"));
    limitedUrl.username = "limited_owner";
    limitedUrl.password = password;
    const limited = { ...target, owner: parseDatabaseUrl(limitedUrl.toString(), "owner") };
    const asLimited = await openPostgres(limited.owner, 1);
    await expect(
      createBackup(asLimited, { dir, kek, signer, actor: "operator:test", postgres: limited }).finally(() =>
        asLimited.close(),
      ),
    ).rejects.toThrow(
      "pg_dump must read every workspace's rows, and the tenant tables force row-level security: the owner role limited_owner has neither SUPERUSER nor BYPASSRLS (ALTER ROLE limited_owner BYPASSRLS, or use a role that has it)",
    );
    await owner.exec("alter role limited_owner bypassrls");
    await expect(verifyBackup(backup.id, { ...deps(), postgres: limited })).rejects.toThrow(
      "backup verify restores into a scratch database on the same server: the owner role limited_owner has neither SUPERUSER nor CREATEDB (ALTER ROLE limited_owner CREATEDB",
    );
    // pg_dump's own failure (a wrong password here) is one line, without the password it was given.
    const wrongUrl = new URL(target.owner.url);
    wrongUrl.password = "not-the-password";
    const wrong = { ...target, owner: parseDatabaseUrl(wrongUrl.toString(), "owner") };
    const failed = await createBackup(owner, { dir, kek, signer, actor: "operator:test", postgres: wrong }).catch(
      (error: Error) => error.message,
    );
    expect(failed).toContain("pg_dump failed (exit 1): ");
    expect(failed).toContain("password authentication failed");
    expect(failed).not.toContain("not-the-password");
    expect(listBackups(dir).map((b) => b.id)).toEqual([backup.id]);
  });

  test("a PostgreSQL backup is not opened as an embedded one", async () => {
    const report = await verifyBackup(backup.id, { ...deps(), postgres: undefined });
    expect(report.ok).toBe(false);
    expect(report.problems.join()).toContain("was taken on PostgreSQL: verify and restore it with DATABASE_OWNER_URL");
  });
});

describe.skipIf(Boolean(missing))("backups [postgres 16, pg_dump 15]", () => {
  test("a pg_dump older than the server is refused first, with one clear line, and nothing is listed", async () => {
    const db = await createTestDb("postgres");
    const dir = mkdtempSync(join(tmpdir(), "causeloop-pgbackup16-"));
    try {
      const target = { owner: parseDatabaseUrl(db.ownerUrl as string, "owner"), binDir: PG15_BIN_DIR };
      const signer = await testSigner();
      await expect(
        createBackup(db.owner, { dir, kek: randomRing(), signer, actor: "operator:test", postgres: target }),
      ).rejects.toThrow(
        /^pg_dump 15\.\S+ is older than the PostgreSQL 16 server: install a PostgreSQL 16 client \(or set CAUSELOOP_PG_BIN_DIR\)$/,
      );
      // Found on PATH or in /usr/lib/postgresql/<newest>/bin, the same: no pg_dump 16 is installed here.
      await expect(
        createBackup(db.owner, {
          dir,
          kek: randomRing(),
          signer,
          actor: "operator:test",
          postgres: { ...target, binDir: undefined },
        }),
      ).rejects.toThrow("is older than the PostgreSQL 16 server: install a PostgreSQL 16 client");
      expect(listBackups(dir)).toEqual([]);
      const [failed] = await db.owner.query<{ after: { reason: string } }>(
        "select after from operator_log where action = 'backup.failed'",
      );
      expect(failed?.after.reason).toContain("is older than the PostgreSQL 16 server");
    } finally {
      await db.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
