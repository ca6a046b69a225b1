// Erasure certificates checked offline, next to where they are signed (rtbf.ts signCertificate): a compact
// JWS (EdDSA) verified against a JWKS, given as the raw JWS or the API's JSON ({certificate}).
import { compactVerify, importJWK, type JWK } from "jose";
import { AppError } from "../errors.ts";

export interface CertificateCheck {
  valid: boolean;
  claims: Record<string, unknown> | null;
}

/** The JWS inside what the operator was given: the compact JWS itself, or the API's JSON holding it. */
export function certificateJws(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) return trimmed;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    const jws =
      typeof parsed === "object" && parsed !== null && "certificate" in parsed ? parsed.certificate : undefined;
    if (typeof jws === "string") return jws;
  } catch {
    // fall through: not the API's JSON
  }
  throw new AppError(
    "validation_failed",
    "the file is neither a certificate (compact JWS) nor the API's JSON holding one",
  );
}

export function parseJwks(text: string): { keys: JWK[] } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "keys" in parsed && Array.isArray(parsed.keys))
      return { keys: parsed.keys };
  } catch {
    // fall through
  }
  throw new AppError("validation_failed", "the JWKS file is not a JSON object with a keys array");
}

function keyIdOf(jws: string): string | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(jws.split(".")[0] ?? "", "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && "kid" in header && typeof header.kid === "string"
      ? header.kid
      : undefined;
  } catch {
    return undefined;
  }
}

/** Valid only when the signature verifies with the key the header names (or the only key given). */
export async function verifyCertificate(jws: string, jwks: { keys: JWK[] }): Promise<CertificateCheck> {
  const kid = keyIdOf(jws);
  const jwk = jwks.keys.find((k) => !kid || k.kid === kid);
  if (!jwk) return { valid: false, claims: null };
  try {
    const { payload } = await compactVerify(jws, await importJWK(jwk, "EdDSA"));
    const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
    return typeof claims === "object" && claims !== null
      ? { valid: true, claims: { ...claims } }
      : { valid: false, claims: null };
  } catch {
    return { valid: false, claims: null };
  }
}
