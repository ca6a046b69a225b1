-- Race-free brute-force throttling of login and MFA attempts (replaces auth_throttle(key, outcome) of
-- 0010, which checked before it recorded: 40 parallel guesses were all evaluated).
--
-- An attempt is counted BEFORE its credential is evaluated, under the row locks of its keys, and counts as
-- a failure until it proves right; refused attempts count nowhere. Three levels, keys are sha256 hex
-- computed by src/identity/throttle.ts (scope = login | mfa):
--   pair     (account, address): 5 free, then 1, 2, 4, 8, 16 s; the 10th locks the pair for 15 minutes.
--   account  (every address):    10 free, then 1, 2, 4 ... s capped at 60 s; never a lock.
--   address  (across accounts):  20 free, then 1, 2, 4 ... s capped at 15 minutes (password spraying).
-- Failures are forgotten after an hour without a new attempt on the key. An address that completed a sign-in
-- of the account (settle ok) is trusted for 30 days: the account and address levels do not hold it back,
-- so an attacker elsewhere cannot lock the owner out from where the owner usually signs in (only the pair
-- level, the attacker's own address, is ever locked). Without an address only the account level applies.

DROP FUNCTION auth_throttle(text, text);
-- Counters are ephemeral, and the key derivation changed.
TRUNCATE auth_throttle;
ALTER TABLE auth_throttle
  ADD COLUMN trusted_until timestamptz,
  -- When the row means nothing any more (a sweep deletes it): last attempt + 1 hour, lock end, trust end.
  ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX auth_throttle_expires ON auth_throttle (expires_at);
COMMENT ON COLUMN auth_throttle.failures IS 'attempts begun in the window and not proven right (counted before evaluation)';
COMMENT ON COLUMN auth_throttle.last_failure_at IS 'when the latest counted attempt began';

-- Seconds the next attempt on a key of this level must wait after its n-th counted attempt began.
CREATE FUNCTION auth_throttle_delay(p_level text, n integer)
  RETURNS integer
  LANGUAGE sql IMMUTABLE
  SET search_path = public, pg_temp
AS $$
  SELECT CASE p_level
    WHEN 'pair'    THEN CASE WHEN n >= 10 THEN 900 WHEN n >= 5 THEN power(2, n - 5)::integer ELSE 0 END
    WHEN 'account' THEN CASE WHEN n >= 10 THEN least(power(2, least(n - 10, 16))::integer, 60) ELSE 0 END
    WHEN 'address' THEN CASE WHEN n >= 20 THEN least(power(2, least(n - 20, 16))::integer, 900) ELSE 0 END
  END
$$;

-- Locks the key's row (creating it) and returns it; callers lock account, pair, address in that order.
CREATE FUNCTION auth_throttle_lock(p_key text)
  RETURNS auth_throttle
  LANGUAGE sql VOLATILE
  SET search_path = public, pg_temp
AS $$
  INSERT INTO auth_throttle (key) VALUES (p_key)
    ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
    RETURNING *
$$;

-- Counts one attempt on a locked row of this level.
CREATE FUNCTION auth_throttle_count(t auth_throttle, p_level text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = public, pg_temp
AS $$
DECLARE
  n integer := CASE WHEN t.last_failure_at > now() - interval '1 hour' THEN t.failures ELSE 0 END + 1;
  wait_s integer := auth_throttle_delay(p_level, n);
  lock_end timestamptz := CASE WHEN wait_s > 0 THEN now() + make_interval(secs => wait_s) ELSE t.locked_until END;
BEGIN
  UPDATE auth_throttle SET failures = n, last_failure_at = now(), locked_until = lock_end,
      expires_at = greatest(now() + interval '1 hour', lock_end, trusted_until)
    WHERE key = t.key;
END $$;

CREATE FUNCTION auth_throttle_wait(t auth_throttle)
  RETURNS integer
  LANGUAGE sql STABLE
  SET search_path = public, pg_temp
AS $$
  SELECT CASE WHEN t.locked_until > now() THEN greatest(ceil(extract(epoch FROM t.locked_until - now()))::integer, 1) ELSE 0 END
$$;

-- Begins an attempt: 0 = admitted and counted (evaluate the credential, then settle), else the seconds to
-- wait (refused, not counted). p_pair and p_address are NULL when the client's address is unknown.
CREATE FUNCTION auth_attempt_begin(p_account text, p_pair text, p_address text)
  RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
DECLARE
  acct auth_throttle;
  pair auth_throttle;
  addr auth_throttle;
  trusted boolean := false;
  wait_s integer;
BEGIN
  -- The table's CHECK holds keys to sha256 hex; an address comes with its pair or not at all.
  IF (p_pair IS NULL) <> (p_address IS NULL) THEN
    RAISE EXCEPTION 'auth_attempt_begin: pair and address keys come together';
  END IF;
  acct := auth_throttle_lock(p_account);
  IF p_pair IS NOT NULL THEN
    pair := auth_throttle_lock(p_pair);
    addr := auth_throttle_lock(p_address);
    trusted := coalesce(pair.trusted_until > now(), false);
  END IF;
  wait_s := greatest(auth_throttle_wait(pair), CASE WHEN trusted THEN 0 ELSE greatest(auth_throttle_wait(acct), auth_throttle_wait(addr)) END);
  IF wait_s = 0 THEN
    PERFORM auth_throttle_count(acct, 'account');
    IF p_pair IS NOT NULL THEN
      PERFORM auth_throttle_count(pair, 'pair');
      PERFORM auth_throttle_count(addr, 'address');
    END IF;
  END IF;
  -- Forget a few stale rows; SKIP LOCKED never waits, and this runs after our own locks are taken, so it
  -- cannot deadlock with another attempt.
  DELETE FROM auth_throttle WHERE key IN (
    SELECT key FROM auth_throttle WHERE expires_at < now() ORDER BY expires_at LIMIT 10 FOR UPDATE SKIP LOCKED);
  RETURN wait_s;
END $$;

-- Settles an admitted attempt. A failure stays counted (nothing to do); a success un-counts itself on the
-- account and address levels (other addresses' failures stay) and clears and trusts the pair.
CREATE FUNCTION auth_attempt_settle(p_account text, p_pair text, p_address text, p_ok boolean)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
AS $$
BEGIN
  IF NOT p_ok THEN RETURN; END IF;
  -- One row per statement, in auth_attempt_begin's order (account, pair, address): no deadlock between them.
  UPDATE auth_throttle SET failures = greatest(failures - 1, 0) WHERE key = p_account;
  UPDATE auth_throttle SET failures = 0, locked_until = NULL, trusted_until = now() + interval '30 days',
      expires_at = now() + interval '30 days'
    WHERE key = p_pair;
  UPDATE auth_throttle SET failures = greatest(failures - 1, 0) WHERE key = p_address;
END $$;

REVOKE ALL ON FUNCTION auth_throttle_delay(text, integer), auth_throttle_lock(text), auth_throttle_count(auth_throttle, text),
  auth_throttle_wait(auth_throttle), auth_attempt_begin(text, text, text), auth_attempt_settle(text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_attempt_begin(text, text, text), auth_attempt_settle(text, text, text, boolean) TO causeloop_app;
