// Passwords: Argon2id through Bun.password (memory 19 MiB, 2 iterations: OWASP's minimum profile for
// Argon2id), a length floor and a small embedded list of the most common passwords.
import { AppError } from "../errors.ts";

export const ARGON2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

const COMMON = new Set(
  `123456789012 1234567890123 password1234 passwordpassword qwertyuiopas qwerty123456 iloveyou1234 111111111111
  000000000000 abc123456789 letmein12345 welcome12345 administrator adminadmin12 changeme1234 trustno11234
  football1234 baseball1234 superman1234 monkey123456 dragon123456 sunshine1234 princess1234 master123456
  password123! Password1234 Password123! qwertyuiop12 1q2w3e4r5t6y zaq12wsxcde3 aaaaaaaaaaaa correcthorsebatterystaple`
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => p.toLowerCase()),
);

export function checkPasswordPolicy(password: string): void {
  if (password.length < 12) throw new AppError("validation_failed", "password must be at least 12 characters");
  if (password.length > 1024) throw new AppError("validation_failed", "password must be at most 1024 characters");
  if (COMMON.has(password.toLowerCase()) || new Set(password).size < 4)
    throw new AppError("validation_failed", "password is too common; choose another");
}

export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, ARGON2);
}

/** A hash of a random password, verified against when the account does not exist, so timing is similar. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(crypto.randomUUID());
  return decoy;
}

export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  const target = hash ?? (await decoyHash());
  const ok = await Bun.password.verify(password, target);
  return ok && hash !== null;
}
