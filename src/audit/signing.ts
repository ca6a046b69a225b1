// The server's Ed25519 audit signing key: signs checkpoints (and later erasure certificates). Its public key
// is published at /.well-known/jwks.json and GET /v1/audit/public-key.
import { AppError } from "../errors.ts";
import { loadServerKey, type ServerKeySource } from "../secrets/server-keys.ts";

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export interface Signer {
  readonly keyId: string;
  readonly publicJwk: PublicJwk;
  sign(payload: string): Promise<string>;
  verify(payload: string, signature: string): Promise<boolean>;
}

const encoder = new TextEncoder();

export async function generatePkcs8(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64");
}

export async function signerFromPkcs8(base64: string): Promise<Signer> {
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", Buffer.from(base64, "base64"), { name: "Ed25519" }, true, [
      "sign",
    ]);
  } catch {
    throw new AppError("config_invalid", "the audit signing key is not a base64 PKCS#8 Ed25519 private key");
  }
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const x = jwk.x as string;
  const keyId = new Bun.CryptoHasher("sha256").update(x).digest("hex").slice(0, 16);
  const publicJwk: PublicJwk = { kty: "OKP", crv: "Ed25519", x, kid: keyId, alg: "EdDSA", use: "sig" };
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, { name: "Ed25519" }, true, [
    "verify",
  ]);
  return {
    keyId,
    publicJwk,
    sign: async (payload) =>
      Buffer.from(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, encoder.encode(payload))).toString(
        "base64url",
      ),
    verify: (payload, signature) =>
      crypto.subtle.verify(
        { name: "Ed25519" },
        publicKey,
        Buffer.from(signature, "base64url"),
        encoder.encode(payload),
      ),
  };
}

export const AUDIT_SIGNING_KEY_FILE = "audit-signing.key";

/** From CAUSELOOP_AUDIT_SIGNING_KEY(_FILE), else the data dir's audit-signing.key (generated when absent). */
/** The installation's signing key only if it exists: for commands that verify (they must never invent one). */
export async function existingSigner(source: Pick<ServerKeySource, "env" | "dataDir">): Promise<Signer> {
  return signerFromPkcs8(
    loadServerKey({ ...source, embedded: false }, "CAUSELOOP_AUDIT_SIGNING_KEY", AUDIT_SIGNING_KEY_FILE, undefined),
  );
}

export async function loadSigner(source: ServerKeySource): Promise<Signer> {
  let generated: string | undefined;
  if (!source.env.CAUSELOOP_AUDIT_SIGNING_KEY && !source.env.CAUSELOOP_AUDIT_SIGNING_KEY_FILE)
    generated = await generatePkcs8();
  const text = loadServerKey(source, "CAUSELOOP_AUDIT_SIGNING_KEY", AUDIT_SIGNING_KEY_FILE, () => generated as string);
  return signerFromPkcs8(text);
}

/**
 * Checks a detached Ed25519 signature (base64url) over `payload` with a public key given as JWK, as offline
 * verifiers hold it (a JWKS fetched from /.well-known/jwks.json, or the key in an export). A key that is not
 * a valid Ed25519 key verifies nothing: false, never an exception.
 */
export async function verifyWithJwk(jwk: { x: string }, payload: string, signature: string): Promise<boolean> {
  const key = await crypto.subtle
    .importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"])
    .catch(() => undefined);
  if (!key) return false;
  return crypto.subtle
    .verify({ name: "Ed25519" }, key, Buffer.from(signature, "base64url"), encoder.encode(payload))
    .catch(() => false);
}

/** A compact JWS (EdDSA) over the claims, issued by causeloop now: certificates and signed reports. */
export async function signJws(signer: Signer, typ: string, claims: Record<string, unknown>): Promise<string> {
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: signer.keyId, typ })).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ iss: "causeloop", ...claims, iat: Math.floor(Date.now() / 1000) }),
  ).toString("base64url");
  return `${header}.${payload}.${await signer.sign(`${header}.${payload}`)}`;
}
