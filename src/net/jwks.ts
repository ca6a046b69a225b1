// Remote JSON Web Key Sets for identity-token verification, fetched through the guard. The key sets are
// cached per policy and URL so that an anonymous caller (POST /v1/auth/exchange needs no credentials)
// cannot make the server fetch at will: a fresh set is reused for 10 minutes, an unknown key id refetches
// at most every 30 seconds, and a failed fetch (refused, unreachable, not a key set) is not retried for
// 30 seconds either. At most MAX_KEY_SETS sets are kept per policy, least recently used dropped first.
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import { guardedFetch } from "./fetch.ts";
import { OutboundRefused, type OutboundPolicy } from "./policy.ts";

const CACHE_MAX_AGE_MS = 10 * 60_000;
const COOLDOWN_MS = 30_000;
const MAX_KEY_SETS = 500;

const caches = new WeakMap<OutboundPolicy, Map<string, JWTVerifyGetKey>>();

function guardedKeySet(url: string, policy: OutboundPolicy): JWTVerifyGetKey {
  let jwks: ReturnType<typeof createRemoteJWKSet>;
  try {
    jwks = createRemoteJWKSet(new URL(url), {
      cacheMaxAge: CACHE_MAX_AGE_MS,
      cooldownDuration: COOLDOWN_MS,
      timeoutDuration: policy.timeoutMs,
      [customFetch]: (input, init) => guardedFetch(input, init, policy),
    });
  } catch {
    return async () => {
      throw new OutboundRefused("the key set URL is not valid");
    };
  }
  let failedAt = Number.NEGATIVE_INFINITY;
  return async (header, token) => {
    if (!jwks.fresh && Date.now() - failedAt < COOLDOWN_MS)
      throw new OutboundRefused("the key set could not be fetched a moment ago; not retried yet");
    try {
      return await jwks(header, token);
    } catch (error) {
      // Without a fresh set the failure was the fetch itself, not a key mismatch: hold off retrying.
      if (!jwks.fresh) failedAt = Date.now();
      throw error;
    }
  };
}

/** A jose key resolver for `url` whose every fetch goes through the outbound guard, cached (see above). */
export function remoteKeySet(url: string, policy: OutboundPolicy): JWTVerifyGetKey {
  let cache = caches.get(policy);
  if (!cache) {
    cache = new Map();
    caches.set(policy, cache);
  }
  let set = cache.get(url);
  if (set) {
    cache.delete(url); // re-inserted below: Map order is the recency order
  } else {
    set = guardedKeySet(url, policy);
    if (cache.size >= MAX_KEY_SETS) cache.delete(cache.keys().next().value as string);
  }
  cache.set(url, set);
  return set;
}
