// What the backup tests of both engines share: a random master key ring, an issue in a tenant, and copies of
// a backup's two files to tamper with.
import { expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { BackupResult } from "../../src/backups/create.ts";
import { verifyBackup, type VerifyDeps } from "../../src/backups/verify.ts";
import type { Engine } from "../../src/db/engine.ts";
import { withTenant } from "../../src/db/tenant.ts";
import { createIssue } from "../../src/issues/service.ts";
import type { Actor } from "../../src/audit/service.ts";
import { exportLinks } from "../../src/governance/export-links.ts";
import { approve, submitRequest, type RtbfKeys } from "../../src/governance/rtbf.ts";
import { localStore } from "../../src/governance/storage.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import type { OnboardResult } from "../../src/tenancy/service.ts";

export const randomRing = () =>
  new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));

export const addIssue = (owner: Engine, t: OnboardResult, title: string) =>
  withTenant(owner, t.workspace_id, (tx) =>
    createIssue(
      tx,
      { workspaceId: t.workspace_id, actorId: t.user_id ?? "usr_test", actorType: "user", context: {} },
      { title, severity: "high" },
    ),
  );

/** A copy of the backup's two files in a directory of its own (under `work`), to tamper with. */
export function copyBackup(backup: BackupResult, work: string, name: string): { manifest: string; data: string } {
  const to = join(work, name);
  mkdirSync(to, { recursive: true });
  for (const f of [backup.data_file, backup.manifest]) copyFileSync(f, join(to, basename(f)));
  return { manifest: join(to, `${backup.id}.manifest.json`), data: join(to, `${backup.id}.clbk`) };
}

/** Flips one bit in the middle of a file. */
function flipByte(path: string): void {
  const bytes = readFileSync(path);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
  writeFileSync(path, bytes);
}

/** Changes the manifest's promised issue count without signing it again. */
function editManifest(path: string): void {
  const signed = JSON.parse(readFileSync(path, "utf8"));
  signed.manifest.tables.issues = 7;
  writeFileSync(path, JSON.stringify(signed));
}

/** The backup file holds no plaintext (the tenant's email), and the operator log recorded its sha256. */
export async function expectSealedAndLogged(owner: Engine, backup: BackupResult): Promise<void> {
  expect(readFileSync(backup.data_file).includes(Buffer.from("ops@acme.com"))).toBe(false);
  const [logged] = await owner.query<{ after: { sha256: string } }>(
    "select after from operator_log where action = 'backup.created' and target_id = $1",
    [backup.id],
  );
  expect(logged?.after.sha256).toBe(backup.sha256);
}

const TAMPERINGS = [
  {
    what: "a changed byte of the encrypted file",
    reason: "tampered file",
    tamper: (c: { data: string }) => flipByte(c.data),
  },
  {
    what: "a changed manifest",
    reason: "tampered manifest",
    tamper: (c: { manifest: string }) => editManifest(c.manifest),
  },
];

/** The same tests on every engine: a changed file and a changed manifest each fail verify, naming the reason. */
export function tamperingTests(
  context: () => { backup: BackupResult; work: string; deps: VerifyDeps },
  after: () => Promise<void> = async () => {},
): void {
  for (const t of TAMPERINGS)
    test(`${t.what} fails verify: ${t.reason}`, async () => {
      const { backup, work, deps } = context();
      const copy = copyBackup(backup, work, t.reason.replace(" ", "-"));
      t.tamper(copy);
      const report = await verifyBackup(copy.manifest, deps);
      expect(report.ok).toBe(false);
      expect(report.problems.join()).toContain(t.reason);
      await after();
    });
}

/** The subject-ref key of an installation with no erasure to replay: never read. */
export const noErasures = () => Promise.reject(new Error("no erasure in the ledger: the key is not read"));

/** An erasure request for `email`, submitted and approved: the erasure runs (and reaches the keys' ledger). */
export async function eraseByApproval(
  engine: Engine,
  keys: RtbfKeys,
  actor: Actor,
  email: string,
  exportsDir: string,
): Promise<string> {
  const request = await withTenant(engine, actor.workspaceId, (tx) => submitRequest(tx, keys, actor, { email }));
  await approve(engine, keys, localStore(exportsDir, exportLinks(new Uint8Array(32), 15)), actor, request.id);
  return request.id;
}
