// Access tokens: JWT HS256 (jose), 15 minutes, claims sub, ws, role, scopes, jti, sid. The signing secret
// rotates by accepting the previous one during a grace period (CAUSELOOP_JWT_SECRET_PREVIOUS).
import { errors, jwtVerify, SignJWT } from "jose";
import { AppError } from "../errors.ts";
import { loadServerKey, type ServerKeySource } from "../secrets/server-keys.ts";
import type { Role, Scope } from "./permissions.ts";

export const ACCESS_TOKEN_SECONDS = 15 * 60;
const ISSUER = "causeloop";

export interface JwtKeys {
  current: Uint8Array;
  previous: Uint8Array | undefined;
}

export function loadJwtKeys(source: ServerKeySource): JwtKeys {
  const secret = loadServerKey(source, "CAUSELOOP_JWT_SECRET", "jwt.secret", () =>
    Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url"),
  );
  if (secret.length < 32) throw new AppError("config_invalid", "CAUSELOOP_JWT_SECRET must be at least 32 characters");
  const previous = source.env.CAUSELOOP_JWT_SECRET_PREVIOUS;
  return {
    current: new TextEncoder().encode(secret),
    previous: previous ? new TextEncoder().encode(previous) : undefined,
  };
}

export interface AccessClaims {
  sub: string;
  ws: string;
  role: Role;
  scopes: Scope[];
  sid: string;
}

export async function signAccessToken(keys: JwtKeys, claims: AccessClaims): Promise<string> {
  return new SignJWT({ ws: claims.ws, role: claims.role, scopes: claims.scopes, sid: claims.sid, typ: "access" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
    .sign(keys.current);
}

/** A short-lived token proving the password step of a login that still needs its MFA code. */
export async function signMfaToken(keys: JwtKeys, userId: string, workspaceId: string): Promise<string> {
  return new SignJWT({ ws: workspaceId, typ: "mfa" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime("5m")
    .sign(keys.current);
}

/** Verifies with the current secret, then the previous one; only HS256 (so `alg: none` and RS/ES fail). */
export async function verifyJwt(keys: JwtKeys, token: string, typ: "access" | "mfa"): Promise<Record<string, unknown>> {
  for (const key of [keys.current, keys.previous]) {
    if (!key) continue;
    try {
      const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: ["HS256"] });
      if (payload.typ !== typ) break;
      return payload as Record<string, unknown>;
    } catch (error) {
      if (error instanceof errors.JWSSignatureVerificationFailed) continue;
      break;
    }
  }
  throw new AppError("unauthorized", "missing, malformed, expired or revoked credentials");
}
