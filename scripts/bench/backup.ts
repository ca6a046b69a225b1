// Backup and restore throughput on the embedded engine, against a baseline in the same run: the plain copy
// (PGlite's uncompressed dumpDataDir written to a file) and the plain load (a new PGlite from that tarball).
// The ratios are what compression, encryption, hashing, the manifest and verification cost.
// Usage: bun scripts/bench/backup.ts [rows]   (each row carries about 2 KB of incompressible text)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePkcs8, signerFromPkcs8 } from "../../src/audit/signing.ts";
import { createBackup } from "../../src/backups/create.ts";
import { restoreBackup } from "../../src/backups/restore.ts";
import { verifyBackup } from "../../src/backups/verify.ts";
import { openPglite } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { onboard } from "../../src/tenancy/service.ts";

const rows = Number(process.argv[2] ?? 30_000);
const root = mkdtempSync(join(tmpdir(), "causeloop-bench-backup-"));
const mb = (bytes: number) => bytes / 1_000_000;
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const value = await fn();
  return [value, (performance.now() - started) / 1000];
};

try {
  const engine = await openPglite(join(root, "live"));
  await migrate(engine);
  await setupAppRole(engine);
  const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
  const signer = await signerFromPkcs8(await generatePkcs8());
  const acme = await onboard(engine, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
  await engine.query(
    `insert into issues (workspace_id, id, title, body, created_by)
     select $1, 'iss_' || lpad(to_hex(g), 26, '0'), 'ballast ' || g,
            (select string_agg(md5(random()::text || g || s), '') from generate_series(1, 64) s), 'usr_bench'
       from generate_series(1, ${rows}) g`,
    [acme.workspace_id],
  );
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
      { ...deps, actor: "operator:bench", keysFrom: root, hmacKey: () => Promise.reject(new Error("no erasures")) },
      { target: join(root, "restored"), force: false },
    ),
  );

  const line = (what: string, seconds: number, baseline: number) =>
    `| ${what} | ${seconds.toFixed(2)} s | ${(mb(tarBytes) / seconds).toFixed(1)} MB/s | ${(seconds / baseline).toFixed(1)}x |`;
  console.log(
    `${rows} rows: data dir tarball ${mb(tarBytes).toFixed(0)} MB, gzipped ${mb(backup.snapshot_bytes).toFixed(0)} MB, encrypted file ${mb(backup.encrypted_bytes).toFixed(0)} MB`,
  );
  console.log("| step | time | data dir MB/s | ratio to its baseline |\n|---|---|---|---|");
  console.log(line("baseline: plain copy (dumpDataDir to a file)", copySeconds, copySeconds));
  console.log(line("`backup` (copy, gzip, AES-256-GCM, sha256, signed manifest)", backupSeconds, copySeconds));
  console.log(line("baseline: plain load (new PGlite from the tarball)", loadSeconds, loadSeconds));
  console.log(line("`backup verify` (sha256, decrypt, load, counts, heads, doctor)", verifySeconds, loadSeconds));
  console.log(line("`restore` (the same, then rename into place)", restoreSeconds, loadSeconds));
} finally {
  rmSync(root, { recursive: true, force: true });
}
