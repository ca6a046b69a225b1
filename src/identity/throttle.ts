// Brute-force throttling of login and MFA attempts. Every attempt is counted before its credential is
// evaluated, so parallel guesses cannot all slip past the limit; the keys are sha256 of the scope and
// what is throttled (never an email or address in clear).
import type { Tx } from "../db/engine.ts";
import { AppError } from "../errors.ts";
import { sha256Hex } from "./tokens.ts";

export type Anonymous = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

export interface AttemptSubject {
  /** What is being guessed at: a password login or an MFA code. */
  scope: "login" | "mfa";
  /** The account (email for login, user id for MFA). */
  account: string;
  /** The client's address, when known. */
  ip?: string;
}

/** Settles an attempt: `true` after the credential proved right (clears the account's failures), `false` after a failure. */
export type SettleAttempt = (ok: boolean) => Promise<void>;

function keysOf(subject: AttemptSubject): string[] {
  return [`${subject.scope}:account:${subject.account}`, ...(subject.ip ? [`${subject.scope}:ip:${subject.ip}`] : [])];
}

async function record(anonymous: Anonymous, keys: string[], outcome: "check" | "fail" | "ok"): Promise<number> {
  return anonymous(async (tx) => {
    let wait = 0;
    for (const key of keys) {
      const [row] = await tx.query<{ w: number }>("select auth_throttle($1, $2) as w", [sha256Hex(key), outcome]);
      wait = Math.max(wait, row?.w ?? 0);
    }
    return wait;
  });
}

/**
 * Starts an attempt: refuses it with 429 `rate_limited` (and `retry_after`) when the subject is throttled,
 * else returns the function that settles it.
 */
export async function beginAttempt(anonymous: Anonymous, subject: AttemptSubject): Promise<SettleAttempt> {
  const keys = keysOf(subject);
  const wait = await record(anonymous, keys, "check");
  if (wait > 0) throw new AppError("rate_limited", `too many failed attempts; try again in ${wait} seconds`, { retry_after: wait });
  return async (ok) => {
    await record(anonymous, keys, ok ? "ok" : "fail");
  };
}
