-- Rate limits shared by every `serve` instance on this database, and password spraying caught sooner.
--
-- rate_limit_buckets: one token bucket per limited subject (a credential, a workspace, a client address),
-- keyed by a sha256 computed by src/http/edge/rate-limit.ts (never a token or address in clear). Instances do
-- not ask per request: each reserves a slice of a bucket's tokens at once (rate_limit_reserve) and spends it
-- locally, so a bucket costs one round trip per slice, not per request. Global, reachable by the runtime role
-- only through the function; rows expire two periods after their last use and the retention job sweeps them.

CREATE TABLE rate_limit_buckets (
  key         text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
  tokens      double precision NOT NULL,
  updated_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX rate_limit_buckets_expires ON rate_limit_buckets (expires_at);
ALTER TABLE rate_limit_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_limit_buckets FORCE ROW LEVEL SECURITY;
REVOKE ALL ON rate_limit_buckets FROM PUBLIC;

-- Takes up to p_want tokens from the bucket (capacity p_limit, refilled at p_limit per p_period_ms): returns
-- how many were granted, how many whole tokens remain, and in how many ms the bucket is full again.
CREATE FUNCTION rate_limit_reserve(p_key text, p_limit integer, p_period_ms integer, p_want integer)
  RETURNS TABLE (granted integer, remaining integer, full_in_ms integer)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  per_ms double precision := p_limit::double precision / p_period_ms;
  at timestamptz := clock_timestamp();
  bucket rate_limit_buckets;
  available double precision;
  take integer;
BEGIN
  IF p_limit < 1 OR p_period_ms < 1 OR p_want < 0 THEN
    RAISE EXCEPTION 'rate_limit_reserve: limit and period must be positive' USING ERRCODE = '22023';
  END IF;
  INSERT INTO rate_limit_buckets AS b (key, tokens, updated_at, expires_at)
    VALUES (p_key, p_limit, at, at + make_interval(secs => 2 * p_period_ms / 1000.0))
    ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
    RETURNING * INTO bucket;
  available := least(p_limit::double precision,
                     bucket.tokens + greatest(extract(epoch FROM at - bucket.updated_at), 0) * 1000 * per_ms);
  take := greatest(least(p_want, floor(available)::integer), 0);
  UPDATE rate_limit_buckets
     SET tokens = available - take, updated_at = at,
         expires_at = at + make_interval(secs => 2 * p_period_ms / 1000.0)
   WHERE key = p_key;
  -- Buckets unused for two periods mean nothing any more: each call sweeps a few.
  DELETE FROM rate_limit_buckets WHERE key IN (
    SELECT key FROM rate_limit_buckets WHERE expires_at < at ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED);
  RETURN QUERY SELECT take, floor(available - take)::integer,
                      ceil((p_limit - (available - take)) / per_ms)::integer;
END $$;
REVOKE ALL ON FUNCTION rate_limit_reserve(text, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rate_limit_reserve(text, integer, integer, integer) TO causeloop_app;

-- A workspace's own budget (requests per minute for the whole workspace), set by its owner or an operator;
-- NULL: the server's default (CAUSELOOP_RATE_LIMIT_WORKSPACE_PER_MINUTE).
ALTER TABLE workspace_settings
  ADD COLUMN rate_limit_per_minute integer CHECK (rate_limit_per_minute BETWEEN 1 AND 10000000);

-- Password spraying: the address level (many accounts from one address) now holds back after 10 counted
-- failures in an hour instead of 20.
CREATE OR REPLACE FUNCTION auth_throttle_delay(p_level text, n integer)
  RETURNS integer
  LANGUAGE sql IMMUTABLE
  SET search_path = public, pg_temp
AS $$
  SELECT CASE p_level
    WHEN 'pair'    THEN CASE WHEN n >= 10 THEN 900 WHEN n >= 5 THEN power(2, n - 5)::integer ELSE 0 END
    WHEN 'account' THEN CASE WHEN n >= 10 THEN least(power(2, least(n - 10, 16))::integer, 60) ELSE 0 END
    WHEN 'address' THEN CASE WHEN n >= 10 THEN least(power(2, least(n - 10, 16))::integer, 900) ELSE 0 END
  END
$$;
