// Brute-force throttling of login and MFA attempts. Every attempt is counted atomically BEFORE its credential
// is evaluated (auth_attempt_begin, migration 0020), so the N+1-th of N parallel guesses is refused unseen.
// Per scope (login | mfa), three levels:
//   (account, address): 5 free, then waits of 1, 2, 4, 8, 16 s; the 10th locks the pair for 15 minutes.
//   account:            10 free (from any address), then 1, 2, 4 ... s capped at 60 s; never a lock.
//   address:            10 free across accounts (password spraying), then 1, 2, 4 ... s capped at 15 minutes.
// Failures are forgotten after an hour without attempts. An address that signed in to the account is trusted
// for 30 days and held back only by its own pair, so an attacker elsewhere cannot lock the owner out.
// Without an address only the account level applies. Keys are sha256 (never an email or address in clear).
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

/** Settles an attempt: `true` after the credential proved right, `false` after a failure (it stays counted). */
export type SettleAttempt = (ok: boolean) => Promise<void>;

/**
 * The address as throttled: an IPv4-mapped IPv6 address is its IPv4 address, and IPv6 counts per /64 (one
 * subscriber's allocation), else an attacker would rotate through 2^64 addresses.
 */
export function throttledAddress(ip: string): string {
  const bare = ip.trim().toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1] as string;
  if (!bare.includes(":")) return bare;
  const [head = "", tail] = bare.split("::");
  const groups = (part: string) => (part ? part.split(":") : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const full = [...left, ...Array<string>(Math.max(8 - left.length - right.length, 0)).fill("0"), ...right];
  return `${full
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

interface AttemptKeys {
  account: string;
  pair: string | null;
  address: string | null;
}

function keysOf(subject: AttemptSubject): AttemptKeys {
  const { scope, account } = subject;
  if (!subject.ip) return { account: sha256Hex(`${scope}:account:${account}`), pair: null, address: null };
  const address = throttledAddress(subject.ip);
  return {
    account: sha256Hex(`${scope}:account:${account}`),
    pair: sha256Hex(`${scope}:pair:${address}:${account}`),
    address: sha256Hex(`${scope}:address:${address}`),
  };
}

/**
 * Starts an attempt: refuses it with 429 `rate_limited` (and `retry_after`, seconds) when the subject is
 * throttled, else counts it and returns the function that settles it.
 */
export async function beginAttempt(anonymous: Anonymous, subject: AttemptSubject): Promise<SettleAttempt> {
  const keys = keysOf(subject);
  const params = [keys.account, keys.pair, keys.address];
  const wait = await anonymous(async (tx) => {
    const [row] = await tx.query<{ wait: number }>(
      "select auth_attempt_begin($1::text, $2::text, $3::text) as wait",
      params,
    );
    return Number(row?.wait ?? 0);
  });
  if (wait > 0)
    throw new AppError("rate_limited", `too many failed attempts; try again in ${wait} seconds`, { retry_after: wait });
  return async (ok) => {
    // A failure was counted when the attempt began; only a success has something to undo.
    if (!ok) return;
    await anonymous((tx) => tx.query("select auth_attempt_settle($1::text, $2::text, $3::text, true)", params));
  };
}
