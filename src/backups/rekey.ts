// Backups across master-key rotations. A backup's data key is wrapped by the master key version current when
// it was taken, inside its signed manifest; `keys rotate-kek --generate` (and a purge, which rotates to
// crypto-shred) drops the older versions. So before they go, each backup gets its data key re-wrapped under
// the current version in a signed `<id>.key.json` beside its manifest, and the erasure ledger records every
// live workspace data key (and account MFA secret) under the current version, for the replay after a restore
// of a backup whose copies of those keys are wrapped under a version that no longer exists.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Signer } from "../audit/signing.ts";
import type { Queryable } from "../db/engine.ts";
import { writeFileAtomically } from "../files.ts";
import type { KekProvider } from "../secrets/keyring.ts";
import { erasureLedger, type ErasureLedger } from "./ledger.ts";
import { checkJson, signJson, type Jwks, type Signature, type SignedManifest } from "./manifest.ts";
import type { Offsite } from "./offsite.ts";
import { listBackups } from "./store.ts";

const KEY_FORMAT = "causeloop.backup.key.v1";
const SIGNED_PREFIX = `${KEY_FORMAT}\n`;

export const rewrappedKeyFile = (id: string) => `${id}.key.json`;

interface RewrappedKey {
  format: typeof KEY_FORMAT;
  id: string;
  wrapped: string;
  kek_version: number;
  aad: string;
  at: string;
}

export interface CarryResult {
  backups: number;
  deks: number;
  factors: number;
}

/**
 * Re-wraps every backup's data key under the ring's current version (`<id>.key.json`) and, when versions are
 * about to be dropped, records the live keys' current wrappings in the ledger. Run while the old versions are
 * still in the ring.
 */
export async function carryBackupsAcrossRotation(
  owner: Queryable,
  ring: KekProvider,
  deps: { dir: string; signer: Signer; ledger: ErasureLedger; offsite?: Offsite },
  dropped: number[],
): Promise<CarryResult> {
  let backups = 0;
  for (const backup of listBackups(deps.dir)) {
    const signed = JSON.parse(readFileSync(backup.manifest, "utf8")) as SignedManifest;
    const current = currentWrapping(deps.dir, signed);
    if (current.kek_version === ring.currentVersion) continue;
    const raw = await ring.unwrap(current.wrapped, current.kek_version, signed.manifest.key.aad);
    const record: RewrappedKey = {
      format: KEY_FORMAT,
      id: signed.manifest.id,
      wrapped: await ring.wrap(raw, signed.manifest.key.aad),
      kek_version: ring.currentVersion,
      aad: signed.manifest.key.aad,
      at: new Date().toISOString(),
    };
    raw.fill(0);
    const signature = await signJson(deps.signer, SIGNED_PREFIX, record);
    writeFileAtomically(
      join(deps.dir, rewrappedKeyFile(record.id)),
      `${JSON.stringify({ key: record, signature }, null, 2)}\n`,
    );
    await deps.offsite?.uploadKey(deps.dir, record.id);
    backups++;
  }
  if (dropped.length === 0) return { backups, deks: 0, factors: 0 };
  const deks = await owner.query<{ workspace_id: string; version: number; wrapped_dek: string }>(
    "select workspace_id, version, wrapped_dek from workspace_keys where status <> 'destroyed' and kek_version = $1 order by workspace_id, version",
    [ring.currentVersion],
  );
  const factors = await owner.query<{ user_id: string; id: string; secret_wrapped: string }>(
    "select user_id, id, secret_wrapped from user_mfa_factors where kek_version = $1 order by user_id, id",
    [ring.currentVersion],
  );
  await deps.ledger.append({ kind: "kek.rotated", kek_version: ring.currentVersion, dropped, deks, factors });
  return { backups, deks: deks.length, factors: factors.length };
}

/** The manifest's own wrapping, unless a re-wrapping beside it is newer (it is checked when read). */
function currentWrapping(dir: string, signed: SignedManifest): { wrapped: string; kek_version: number } {
  const path = join(dir, rewrappedKeyFile(signed.manifest.id));
  if (!existsSync(path)) return signed.manifest.key;
  const { key } = JSON.parse(readFileSync(path, "utf8")) as { key: RewrappedKey };
  return key;
}

/**
 * The wrapping verify and restore should use: the manifest's, or the signed re-wrapping beside it when the
 * ring no longer has the manifest's version. A re-wrapping whose signature fails is refused with the reason.
 */
export async function backupDataKey(
  dir: string,
  signed: SignedManifest,
  ring: Pick<KekProvider, "versions">,
  keys: Jwks["keys"],
): Promise<{ wrapped: string; kek_version: number; source: string } | { problem: string }> {
  const own = signed.manifest.key;
  const path = join(dir, rewrappedKeyFile(signed.manifest.id));
  if (ring.versions.includes(own.kek_version) || !existsSync(path))
    return { wrapped: own.wrapped, kek_version: own.kek_version, source: "the manifest" };
  let parsed: { key?: RewrappedKey; signature?: Partial<Signature> };
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return { problem: `tampered re-wrapped key: ${path} is not JSON` };
  }
  const ok = parsed.key && (await checkJson(keys, SIGNED_PREFIX, parsed.key, parsed.signature)) === "ok";
  if (!ok || !parsed.key || parsed.key.id !== signed.manifest.id || parsed.key.aad !== own.aad)
    return { problem: `tampered re-wrapped key: the signature of ${path} does not verify` };
  return { wrapped: parsed.key.wrapped, kek_version: parsed.key.kek_version, source: rewrappedKeyFile(parsed.key.id) };
}

/** Where an installation keeps its backups and ledger, and what signs them. */
export interface BackupPlace {
  dir: string;
  signer: Signer;
  offsite?: Offsite;
}

/** rotateKek's `beforeDrop` for an installation's backups (and ledger). */
export function carryBackups(owner: Queryable, place: BackupPlace) {
  return (ring: KekProvider, dropping: number[]) =>
    carryBackupsAcrossRotation(
      owner,
      ring,
      { ...place, ledger: erasureLedger(place.dir, place.signer, place.offsite) },
      dropping,
    );
}
