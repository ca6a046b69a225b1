// Rate limits: token buckets per credential, per workspace and per client address (unauthenticated
// requests), with the IETF RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers) and the
// X-RateLimit-* trio on every limited answer, and a 429 problem with Retry-After past the budget.
//
// Embedded (one process), the buckets live in memory. On PostgreSQL the budget is shared by every instance:
// an instance reserves a slice of a bucket (a twentieth of it, rate_limit_reserve in migration 0023) in one
// statement and spends it locally, so a bucket costs one round trip per slice instead of one per request. The
// price is precision: up to one slice per instance may be held unspent, so N instances can refuse up to
// N slices early; never late. If the shared store fails, reads go on (the failure is logged and counted) and
// writes get 503, never a 500.
import { AppError } from "../../errors.ts";
import type { Logger } from "../../log.ts";

export const PERIOD_MS = 60_000;

export interface Verdict {
  /** The policy's name in the RateLimit fields: credential, workspace or address. */
  policy: string;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again (the RateLimit field's `t`). */
  resetSeconds: number;
  allowed: boolean;
  /** Seconds to wait before the next request can pass (when refused). */
  retryAfter: number;
}

/** Where shared buckets live: rate_limit_reserve on PostgreSQL. */
export interface BucketStore {
  reserve(key: string, limit: number, periodMs: number, want: number): Promise<Reservation>;
}

export interface Reservation {
  granted: number;
  remaining: number;
  fullInMs: number;
}

interface LocalBucket {
  tokens: number;
  at: number;
  limit: number;
}

interface SharedBucket {
  /** Tokens reserved from the store and not spent yet. */
  held: number;
  /** What the store had left after the last reservation. */
  remaining: number;
  fullInMs: number;
  /** When the store last refused (no token): wait before asking again. */
  emptyUntil: number;
  pending?: Promise<void>;
  limit: number;
}

const MAX_BUCKETS = 100_000;

export interface Limiter {
  take(policy: string, subject: string, limit: number, write: boolean): Promise<Verdict>;
  /** Refusals and store failures since start, by kind (for metrics and tests). */
  readonly counts: { refused: number; storeFailures: number };
}

/** In-memory token buckets (embedded mode, or a store-less test). */
export function localLimiter(now: () => number = Date.now): Limiter {
  const buckets = new Map<string, LocalBucket>();
  const counts = { refused: 0, storeFailures: 0 };
  return {
    counts,
    async take(policy, subject, limit) {
      const key = `${policy}:${subject}`;
      const at = now();
      const perMs = limit / PERIOD_MS;
      let bucket = buckets.get(key);
      if (!bucket || bucket.limit !== limit) {
        if (buckets.size >= MAX_BUCKETS) evictFull(buckets, at, perMs);
        bucket = { tokens: limit, at, limit };
        buckets.set(key, bucket);
      }
      bucket.tokens = Math.min(limit, bucket.tokens + (at - bucket.at) * perMs);
      bucket.at = at;
      const allowed = bucket.tokens >= 1;
      if (allowed) bucket.tokens -= 1;
      else counts.refused++;
      return verdict(policy, limit, bucket.tokens, perMs, allowed);
    },
  };
}

/** Drops the buckets that are full again (they mean nothing); keeps memory bounded under key spraying. */
function evictFull(buckets: Map<string, LocalBucket>, at: number, perMs: number): void {
  for (const [key, bucket] of buckets) {
    if (bucket.tokens + (at - bucket.at) * perMs >= bucket.limit) buckets.delete(key);
  }
  if (buckets.size >= MAX_BUCKETS) buckets.clear();
}

function verdict(policy: string, limit: number, tokens: number, perMs: number, allowed: boolean): Verdict {
  return {
    policy,
    limit,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: Math.ceil((limit - tokens) / perMs / 1000),
    allowed,
    retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)),
  };
}

/** Buckets shared through the store, spent locally a slice at a time. */
export function sharedLimiter(store: BucketStore, logger: Logger, now: () => number = Date.now): Limiter {
  const buckets = new Map<string, SharedBucket>();
  const counts = { refused: 0, storeFailures: 0 };
  const refill = async (key: string, bucket: SharedBucket) => {
    const slice = Math.max(1, Math.ceil(bucket.limit / 20));
    const got = await store.reserve(key, bucket.limit, PERIOD_MS, slice);
    bucket.held += got.granted;
    bucket.remaining = got.remaining;
    bucket.fullInMs = got.fullInMs;
    bucket.emptyUntil = got.granted === 0 ? now() + Math.ceil(PERIOD_MS / bucket.limit) : 0;
  };
  return {
    counts,
    async take(policy, subject, limit, write) {
      const key = bucketKey(policy, subject);
      let bucket = buckets.get(key);
      if (!bucket || bucket.limit !== limit) {
        if (buckets.size >= MAX_BUCKETS) buckets.clear();
        bucket = { held: 0, remaining: limit, fullInMs: 0, emptyUntil: 0, limit };
        buckets.set(key, bucket);
      }
      const perMs = limit / PERIOD_MS;
      if (bucket.held < 1 && now() >= bucket.emptyUntil) {
        try {
          bucket.pending ??= refill(key, bucket).finally(() => {
            if (bucket) bucket.pending = undefined;
          });
          await bucket.pending;
        } catch (error) {
          counts.storeFailures++;
          logger.error("ratelimit.store_failed", { policy, error: (error as Error).message });
          if (write) throw new AppError("database_unreachable", "the rate limiter is unavailable; retry shortly");
          return { policy, limit, remaining: 0, resetSeconds: 0, allowed: true, retryAfter: 0 };
        }
      }
      const allowed = bucket.held >= 1;
      if (allowed) bucket.held -= 1;
      else counts.refused++;
      const tokens = bucket.remaining + bucket.held;
      return {
        policy,
        limit,
        remaining: Math.max(0, Math.floor(tokens)),
        resetSeconds: Math.ceil(bucket.fullInMs / 1000),
        allowed,
        retryAfter: allowed
          ? 0
          : Math.max(1, Math.ceil((bucket.emptyUntil - now()) / 1000), Math.ceil(1 / perMs / 1000)),
      };
    },
  };
}

const keys = new Map<string, string>();

/**
 * A bucket's key in the shared table: a sha256, so no credential id or address is stored in clear. Computed
 * once per subject (it is on every request's path), the memo bounded like the buckets.
 */
function bucketKey(policy: string, subject: string): string {
  const name = `${policy}:${subject}`;
  let key = keys.get(name);
  if (!key) {
    if (keys.size >= MAX_BUCKETS) keys.clear();
    key = new Bun.CryptoHasher("sha256").update(name).digest("hex");
    keys.set(name, key);
  }
  return key;
}

/**
 * The answer's rate-limit fields, set on its headers: every policy that applied, and the X-RateLimit-* trio of
 * the tightest (every request: no intermediate object or arrays).
 */
export function setRateLimitHeaders(headers: Pick<Headers, "set">, verdicts: Verdict[]): void {
  const first = verdicts[0];
  if (!first) return;
  let tightest = first;
  let policy = "";
  let state = "";
  for (const v of verdicts) {
    if (v.remaining < tightest.remaining || !v.allowed) tightest = v;
    const sep = policy ? ", " : "";
    policy += `${sep}"${v.policy}";q=${v.limit};w=${PERIOD_MS / 1000}`;
    state += `${sep}"${v.policy}";r=${v.remaining};t=${v.resetSeconds}`;
  }
  headers.set("ratelimit-policy", policy);
  headers.set("ratelimit", state);
  headers.set("x-ratelimit-limit", String(tightest.limit));
  headers.set("x-ratelimit-remaining", String(tightest.remaining));
  headers.set("x-ratelimit-reset", String(tightest.resetSeconds));
}

/** The 429 for a refused verdict (problem+json with retry_after; the front door adds Retry-After). */
export function refusal(verdict: Verdict): AppError {
  return new AppError(
    "rate_limited",
    `rate limit exceeded (${verdict.policy}: ${verdict.limit} requests per minute); retry in ${verdict.retryAfter} s`,
    { retry_after: verdict.retryAfter, policy: verdict.policy },
  );
}
