// A backup's manifest: what the snapshot holds (migration ledger, row counts, audit chain heads), how its file
// is encrypted (the wrapped data key, the nonce) and the file's sha256, signed with the audit key. The
// signature covers `causeloop.backup.manifest.v1\n` + JSON.stringify(manifest): the file is that JSON under
// `manifest`, the signature beside it, so a reader re-serializes what it parsed and checks the same bytes.
import { readFileSync } from "node:fs";
import { verifyWithJwk, type Signer } from "../audit/signing.ts";
import { AppError } from "../errors.ts";
import type { PostgresFacts } from "./postgres.ts";

export const MANIFEST_FORMAT = "causeloop.backup.v1";
const SIGNED_PREFIX = "causeloop.backup.manifest.v1\n";

export interface ChainHead {
  /** A workspace id, or `operator` for the operator log. */
  stream: string;
  seq: number;
  hash: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  engine: "pglite" | "postgres";
  causeloop_version: string;
  started_at: string;
  finished_at: string;
  /** The encrypted file's name, in the same directory as the manifest. */
  data_file: string;
  /**
   * PGlite: the data dir's tarball, the same gzipped (what is encrypted), and the encrypted file. PostgreSQL:
   * no tarball; the snapshot is pg_dump's custom-format archive (compressed by pg_dump).
   */
  sizes: { tar_bytes?: number; snapshot_bytes: number; encrypted_bytes: number };
  /** sha256 (hex) of the encrypted file. */
  sha256: string;
  cipher: {
    algorithm: "aes-256-gcm";
    nonce: string;
    tag_bytes: number;
    aad: string;
    layout: "ciphertext || tag";
    plaintext: "pglite-datadir.tar.gz" | "pg_dump-custom";
  };
  /** The backup's data key, wrapped by the master key ring (AES-256-GCM, additional data `aad`). */
  key: { wrapped: string; kek_version: number; aad: string };
  migrations: { name: string; sha256: string; applied_at: string }[];
  tables: Record<string, number>;
  audit_heads: ChainHead[];
  /** PostgreSQL only: the server, the pg_dump and the global objects the dump needs. */
  postgres?: PostgresFacts;
}

export interface SignedManifest {
  manifest: BackupManifest;
  signature: Signature;
}

/** The signature beside every signed backup file's body (a manifest, a re-wrapped key, a ledger line). */
export interface Signature {
  alg: "EdDSA";
  key_id: string;
  value: string;
}

/** Signs `prefix` + the body's JSON with the audit key: the one way backup files are signed. */
export async function signJson(signer: Signer, prefix: string, body: unknown): Promise<Signature> {
  return { alg: "EdDSA", key_id: signer.keyId, value: await signer.sign(prefix + JSON.stringify(body)) };
}

/**
 * Whether `signature` verifies `prefix` + the body's JSON with the key it names among `keys`: `no_key` when
 * none of them is that key, `bad` when it does not verify (or has no value).
 */
export async function checkJson(
  keys: Jwks["keys"],
  prefix: string,
  body: unknown,
  signature: Partial<Signature> | undefined,
): Promise<"ok" | "no_key" | "bad"> {
  const key = keys.find((k) => !k.kid || k.kid === signature?.key_id);
  if (!key) return "no_key";
  if (typeof signature?.value !== "string") return "bad";
  return (await verifyWithJwk(key, prefix + JSON.stringify(body), signature.value)) ? "ok" : "bad";
}

export const dataKeyAad = (id: string) => `causeloop.backup.key.v1\n${id}`;
export const dataAad = (id: string) => `causeloop.backup.data.v1\n${id}`;

export async function signManifest(manifest: BackupManifest, signer: Signer): Promise<SignedManifest> {
  return { manifest, signature: await signJson(signer, SIGNED_PREFIX, manifest) };
}

export type Jwks = { keys: { x: string; kid?: string }[] };

/** Problems with the manifest's signature (none when it verifies with one of the keys). */
export async function signatureProblems(signed: SignedManifest, keys: Jwks["keys"]): Promise<string[]> {
  const verdict = await checkJson(keys, SIGNED_PREFIX, signed.manifest, signed.signature);
  if (verdict === "no_key")
    return [`tampered or foreign manifest: no public key ${signed.signature.key_id} to check its signature`];
  return verdict === "ok" ? [] : ["tampered manifest: its signature does not verify"];
}

function isSignedManifest(value: unknown): value is SignedManifest {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<SignedManifest>;
  return (
    typeof v.manifest === "object" &&
    v.manifest !== null &&
    v.manifest.format === MANIFEST_FORMAT &&
    typeof v.signature?.value === "string" &&
    typeof v.signature.key_id === "string"
  );
}

/** Reads a manifest file; a file that is not one is a clear error naming it. */
export function readManifest(path: string): SignedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new AppError(
      missing ? "not_found" : "bad_request",
      missing ? `backup manifest ${path} does not exist` : `tampered manifest: ${path} is not JSON`,
    );
  }
  if (!isSignedManifest(parsed))
    throw new AppError("bad_request", `tampered manifest: ${path} is not a Causeloop backup manifest`);
  return parsed;
}
