// Point-in-time recovery with pgBackRest (Debian's package) on PostgreSQL 15, and the erasure ledger replayed
// after it: WAL archived by pgBackRest, a full backup, a person erased after the recovery target; the cluster
// recovered to that time has the person back, and `restore --replay-only --since <target>` (replayAfterRestore)
// erases them again. The README's runbook is these steps.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { erasureLedger } from "../../src/backups/ledger.ts";
import { replayAfterRestore } from "../../src/backups/replay.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPostgres } from "../../src/db/engine.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { importHmacKey } from "../../src/governance/rtbf.ts";
import { createIssue } from "../../src/issues/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { eraseByApproval } from "../helpers/backups.ts";
import { freePort } from "../helpers/binary.ts";
import { asPostgres, PG15_BIN_DIR, pg15Missing, startPostgres15 } from "../helpers/postgres15-server.ts";
import { testSigner } from "../helpers/signer.ts";

const PGBACKREST = "/usr/bin/pgbackrest";
const missing =
  pg15Missing() ?? (existsSync(PGBACKREST) ? undefined : "pgbackrest is missing: apt-get install pgbackrest");
if (missing) console.warn(`SKIPPED: the point-in-time recovery test: ${missing}`);

const SUBJECT = "jane.doe@example.com";

describe.skipIf(Boolean(missing))("point-in-time recovery [postgres 15, pgBackRest]", () => {
  test("recovered to a time before an erasure, the ledger's replay erases the person again", async () => {
    const work = mkdtempSync(join(tmpdir(), "causeloop-pitr-"));
    chmodSync(work, 0o777);
    const conf = join(work, "pgbackrest.conf");
    for (const dir of ["repo", "log", "lock", "spool"]) {
      mkdirSync(join(work, dir));
      chmodSync(join(work, dir), 0o777);
    }
    const server = await startPostgres15({
      conf: [
        "wal_level = replica",
        "archive_mode = on",
        `archive_command = '${PGBACKREST} --config=${conf} --stanza=causeloop archive-push %p'`,
      ].join("\n"),
    });
    writeFileSync(
      conf,
      [
        "[global]",
        `repo1-path=${join(work, "repo")}`,
        `log-path=${join(work, "log")}`,
        `lock-path=${join(work, "lock")}`,
        `spool-path=${join(work, "spool")}`,
        "log-level-console=warn",
        "start-fast=y",
        "[causeloop]",
        `pg1-path=${server.dataDir}`,
        `pg1-port=${server.port}`,
        `pg1-socket-path=${server.socketDir}`,
      ].join("\n"),
      { mode: 0o644 },
    );
    const backrest = (...args: string[]) =>
      asPostgres([
        "env",
        `PGPASSWORD=${server.superuserPassword}`,
        PGBACKREST,
        `--config=${conf}`,
        "--stanza=causeloop",
        ...args,
      ]);
    let restoredPort = 0;
    const restoredData = join(work, "recovered");
    try {
      const live = await server.createDatabase("live");
      const owner = await openPostgres(parseDatabaseUrl(live.ownerUrl, "owner"), 2);
      const signer = await testSigner();
      const ring = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
      const keys = {
        hmacKey: await importHmacKey("pitr-rtbf-key"),
        signer,
        ledger: erasureLedger(join(work, "backups"), signer),
      };
      let target: string;
      try {
        const acme = await onboard(owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, ring);
        const actor = {
          workspaceId: acme.workspace_id,
          actorId: acme.user_id ?? "usr_t",
          actorType: "user" as const,
          context: {},
        };
        await withTenant(owner, acme.workspace_id, (tx) =>
          createIssue(tx, actor, { title: "checkout fails", severity: "high", reporter_email: SUBJECT }),
        );
        backrest("stanza-create");
        backrest("backup", "--type=full");
        await Bun.sleep(1100);
        [{ target }] = (await owner.query<{ target: string }>("select now()::text as target")) as [{ target: string }];
        await Bun.sleep(1100);
        // After the recovery target: the person is erased (and the ledger records it).
        await eraseByApproval(owner, keys, actor, SUBJECT, join(work, "exports"));
        await owner.query("select pg_switch_wal()");
        await owner.query("checkpoint");
        await owner.query("select pg_switch_wal()");
        await Bun.sleep(1500); // the archiver ships the last segment
      } finally {
        await owner.close();
      }

      // Recover the cluster, into a new data dir, to the time before the erasure.
      mkdirSync(restoredData, { mode: 0o700 });
      if (process.getuid?.() === 0) Bun.spawnSync(["chown", "postgres", restoredData]);
      backrest("restore", `--pg1-path=${restoredData}`, "--type=time", `--target=${target}`, "--target-action=promote");
      restoredPort = await freePort();
      asPostgres([
        join(PG15_BIN_DIR, "pg_ctl"),
        "-D",
        restoredData,
        "-l",
        join(work, "recovered.log"),
        "-o",
        `-p ${restoredPort} -k ${server.socketDir} -c listen_addresses=127.0.0.1 -c archive_mode=off`,
        "-w",
        "-t",
        "120",
        "start",
      ]);
      const url = live.ownerUrl.replace(`:${server.port}/`, `:${restoredPort}/`);
      const recovered = await openPostgres(parseDatabaseUrl(url, "owner"), 2);
      try {
        const reporters = async () =>
          (await recovered.query<{ r: string }>("select reporter_email as r from issues")).map((x) => x.r);
        // Recovery replays the archived WAL up to the target, then promotes: wait for it to accept writes.
        for (let i = 0; i < 600; i++) {
          const [state] = await recovered.query<{ recovering: boolean }>("select pg_is_in_recovery() as recovering");
          if (!state?.recovering) break;
          await Bun.sleep(100);
        }
        expect(await reporters()).toContain(SUBJECT); // the recovered database predates the erasure
        const replay = await replayAfterRestore(recovered, new Date(target).toISOString(), null, {
          dir: join(work, "backups"),
          keys: [signer.publicJwk],
          kek: ring,
          hmacKey: async () => keys.hmacKey,
          actor: "operator:test",
        });
        expect(replay.erased.map((e) => e.rows).every((n) => n > 0)).toBe(true);
        expect(replay.erased).toHaveLength(1);
        expect(await reporters()).not.toContain(SUBJECT);
      } finally {
        await recovered.close();
      }
    } finally {
      if (restoredPort)
        try {
          asPostgres([join(PG15_BIN_DIR, "pg_ctl"), "-D", restoredData, "-m", "immediate", "-w", "stop"]);
        } catch {}
      await server.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
