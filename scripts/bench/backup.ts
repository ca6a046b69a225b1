// Backup and restore throughput against a baseline in the same run. Embedded: the plain copy (PGlite's
// uncompressed dumpDataDir written to a file) and the plain load (a new PGlite from that tarball). PostgreSQL
// (Debian's PostgreSQL 15 with its own pg_dump 15, started here): a plain `pg_dump -Fc` to a file and a plain
// `pg_restore` of it into an empty database. The ratios are what compression, encryption, hashing, the
// manifest and verification cost.
// Usage: bun scripts/bench/backup.ts [rows] [pglite|postgres|both]   (each row carries about 2 KB of text)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePkcs8, signerFromPkcs8 } from "../../src/audit/signing.ts";
import { createBackup } from "../../src/backups/create.ts";
import { restoreBackup } from "../../src/backups/restore.ts";
import { restoreToDatabase } from "../../src/backups/restore-postgres.ts";
import { verifyBackup } from "../../src/backups/verify.ts";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPglite, openPostgres, type Engine } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard } from "../../src/tenancy/service.ts";
import { PG15_BIN_DIR, pg15Missing, startPostgres15 } from "../../test/helpers/postgres15-server.ts";

/** The subject-ref key: never read (the bench database has no erasure to replay). */
const noErasures = () => Promise.reject(new Error("no erasure to replay"));

const rows = Number(process.argv[2] ?? 30_000);
const engines = process.argv[3] ?? "both";
const ROUNDS = 3;
const mb = (bytes: number) => bytes / 1_000_000;
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const value = await fn();
  return [value, (performance.now() - started) / 1000];
};
const newRing = () => new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));

/** One tenant and `rows` issues of about 2 KB of random hex each. */
async function fill(engine: Engine, kek: LocalKeyRing): Promise<void> {
  const acme = await onboard(engine, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
  await engine.query(
    `insert into issues (workspace_id, id, title, body, created_by)
     select $1, 'iss_' || lpad(to_hex(g), 26, '0'), 'ballast ' || g,
            (select string_agg(md5(random()::text || g || s), '') from generate_series(1, 64) s), 'usr_bench'
       from generate_series(1, ${rows}) g`,
    [acme.workspace_id],
  );
}

/** Prints the table: each step's time, throughput over `bytes` and ratio to its baseline. */
function report(bytes: number, unit: string, lines: [string, number, number][]): void {
  console.log(`| step | time | ${unit} MB/s | ratio to its baseline |\n|---|---|---|---|`);
  for (const [what, seconds, baseline] of lines)
    console.log(
      `| ${what} | ${seconds.toFixed(2)} s | ${(mb(bytes) / seconds).toFixed(1)} MB/s | ${(seconds / baseline).toFixed(1)}x |`,
    );
}

async function embedded(root: string): Promise<void> {
  const engine = await openPglite(join(root, "live"));
  await migrate(engine);
  await setupAppRole(engine);
  const kek = newRing();
  const signer = await signerFromPkcs8(await generatePkcs8());
  await fill(engine, kek);
  await engine.exec("CHECKPOINT");

  const [tarBytes, copySeconds] = await timed(async () => {
    const tar = await (engine.dumpDataDir as () => Promise<Blob>)();
    return Bun.write(join(root, "plain.tar"), tar);
  });
  const dir = join(root, "backups");
  const [backup, backupSeconds] = await timed(() =>
    createBackup(engine, { dir, kek, signer, actor: "operator:bench" }),
  );
  await engine.close();

  const [, loadSeconds] = await timed(async () => {
    const plain = await openPglite(join(root, "plain"), { loadDataDir: Bun.file(join(root, "plain.tar")) });
    await plain.query("select count(*) from issues");
    await plain.close();
  });
  const deps = { dir, kek, keys: [signer.publicJwk], keySource: "bench" };
  const [verified, verifySeconds] = await timed(() => verifyBackup(backup.id, deps));
  if (!verified.ok) throw new Error(`verify failed: ${verified.problems.join("; ")}`);
  const [, restoreSeconds] = await timed(() =>
    restoreBackup(
      backup.id,
      { ...deps, actor: "operator:bench", keysFrom: root, hmacKey: noErasures },
      { target: join(root, "restored"), force: false },
    ),
  );

  console.log(
    `embedded, ${rows} rows: data dir tarball ${mb(tarBytes).toFixed(0)} MB, gzipped ${mb(backup.snapshot_bytes).toFixed(0)} MB, encrypted file ${mb(backup.encrypted_bytes).toFixed(0)} MB`,
  );
  report(tarBytes, "data dir", [
    ["baseline: plain copy (dumpDataDir to a file)", copySeconds, copySeconds],
    ["`backup` (copy, gzip, AES-256-GCM, sha256, signed manifest)", backupSeconds, copySeconds],
    ["baseline: plain load (new PGlite from the tarball)", loadSeconds, loadSeconds],
    ["`backup verify` (sha256, decrypt, load, counts, heads, doctor)", verifySeconds, loadSeconds],
    ["`restore` (the same, then rename into place)", restoreSeconds, loadSeconds],
  ]);
}

async function onPostgres(root: string): Promise<void> {
  const missing = pg15Missing();
  if (missing) return void console.log(`PostgreSQL skipped: ${missing}`);
  const server = await startPostgres15();
  try {
    const { ownerUrl } = await server.createDatabase("bench");
    const owner = parseDatabaseUrl(ownerUrl, "owner");
    const engine = await openPostgres(owner, 2);
    const kek = newRing();
    const signer = await signerFromPkcs8(await generatePkcs8());
    await fill(engine, kek);
    await engine.exec("VACUUM ANALYZE");
    const [size] = await engine.query<{ bytes: number }>(
      "select pg_database_size(current_database())::float8 as bytes",
    );
    const dbBytes = size?.bytes ?? 0;
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      PGPASSWORD: decodeURIComponent(new URL(ownerUrl).password),
    };
    const plainUrl = (name: string) => {
      const url = new URL(ownerUrl);
      url.password = "";
      url.pathname = `/${name}`;
      return url.toString();
    };
    const tool = async (name: string, args: string[]) => {
      const proc = Bun.spawn([join(PG15_BIN_DIR, name), ...args], { env, stdout: "ignore", stderr: "pipe" });
      if ((await proc.exited) !== 0) throw new Error(`${name}: ${await new Response(proc.stderr).text()}`);
    };

    const dir = join(root, "pg-backups");
    const target = { owner, binDir: PG15_BIN_DIR };
    const deps = { dir, kek, keys: [signer.publicJwk], keySource: "bench", postgres: target };
    // Each step ROUNDS times, interleaved with its baseline, and the median kept: the machine is shared.
    const times: Record<"dump" | "backup" | "load" | "verify" | "restore", number[]> = {
      dump: [],
      backup: [],
      load: [],
      verify: [],
      restore: [],
    };
    let backup: Awaited<ReturnType<typeof createBackup>> | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const plainDump = join(root, "plain.dump");
      rmSync(plainDump, { force: true });
      times.dump.push(
        (
          await timed(() =>
            tool("pg_dump", ["--format=custom", `--file=${plainDump}`, `--dbname=${plainUrl("bench")}`]),
          )
        )[1],
      );
      const [made, backupSeconds] = await timed(() =>
        createBackup(engine, { dir, kek, signer, actor: "operator:bench", postgres: target }),
      );
      backup = made;
      times.backup.push(backupSeconds);
      await server.createEmptyDatabase("plain_restore");
      const restoreArgs = ["--no-owner", "--single-transaction", "--exit-on-error"];
      times.load.push(
        (
          await timed(() => tool("pg_restore", [...restoreArgs, `--dbname=${plainUrl("plain_restore")}`, plainDump]))
        )[1],
      );
      const [verified, verifySeconds] = await timed(() => verifyBackup(made.id, deps));
      if (!verified.ok) throw new Error(`verify failed: ${verified.problems.join("; ")}`);
      times.verify.push(verifySeconds);
      const restoreUrl = await server.createEmptyDatabase("restored");
      times.restore.push(
        (
          await timed(() =>
            restoreToDatabase(
              made.id,
              { ...deps, postgres: undefined, actor: "operator:bench", binDir: PG15_BIN_DIR, hmacKey: noErasures },
              { url: restoreUrl, force: false },
            ),
          )
        )[1],
      );
      for (const name of ["plain_restore", "restored"]) await engine.exec(`drop database ${name} with (force)`);
      rmSync(join(dir, `${made.id}.clbk`));
    }
    await engine.close();
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
    const [dumpSeconds, backupSeconds, loadSeconds, verifySeconds, restoreSeconds] = [
      times.dump,
      times.backup,
      times.load,
      times.verify,
      times.restore,
    ].map(median) as [number, number, number, number, number];
    if (!backup) throw new Error("no backup was made");
    console.log(
      `\nPostgreSQL 15 (pg_dump 15), ${rows} rows, median of ${ROUNDS} rounds: database ${mb(dbBytes).toFixed(0)} MB, pg_dump archive ${mb(backup.snapshot_bytes).toFixed(0)} MB, encrypted file ${mb(backup.encrypted_bytes).toFixed(0)} MB`,
    );
    report(dbBytes, "database", [
      ["baseline: plain `pg_dump -Fc` to a file", dumpSeconds, dumpSeconds],
      ["`backup` (pg_dump -Fc, AES-256-GCM, sha256, counts, signed manifest)", backupSeconds, dumpSeconds],
      ["baseline: plain `pg_restore` into an empty database", loadSeconds, loadSeconds],
      [
        "`backup verify` (sha256, decrypt, pg_restore into a scratch db, counts, heads, doctor, drop)",
        verifySeconds,
        loadSeconds,
      ],
      ["`restore --to-database-url` (the same into the target, grants, operator log)", restoreSeconds, loadSeconds],
    ]);
  } finally {
    await server.stop();
  }
}

const root = mkdtempSync(join(tmpdir(), "causeloop-bench-backup-"));
try {
  if (engines !== "postgres") await embedded(root);
  if (engines !== "pglite") await onPostgres(root);
} finally {
  rmSync(root, { recursive: true, force: true });
}
