// Brute-force throttling through its one interface (beginAttempt/settle), with explicit client addresses,
// on both engines. Written as the attacks: parallel guesses, an attacker locking a person out from another
// address, a botnet, password spraying, IPv6 rotation. Time passes by moving the throttle's timestamps back.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { withoutTenant } from "../../src/db/tenant.ts";
import { isAppError } from "../../src/errors.ts";
import { beginAttempt, throttledAddress, type Anonymous, type AttemptSubject } from "../../src/identity/throttle.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

type Outcome = { admitted: true } | { admitted: false; retryAfter: number };

describeEngines("brute-force throttle", (kind) => {
  let db: TestDb;
  let anonymous: Anonymous;
  let n = 0;
  /** A fresh account name per test, so no test sees another's counters. */
  const account = () => `person-${++n}@example.com`;

  beforeAll(async () => {
    db = await createTestDb(kind);
    const d = db;
    anonymous = (fn) => withoutTenant(d.app, fn);
  });
  afterAll(() => db.dispose());

  /** One guess: refused before evaluation, or evaluated (taking a moment, as a password hash does) and settled. */
  async function guess(subject: AttemptSubject, right = false): Promise<Outcome> {
    try {
      const settle = await beginAttempt(anonymous, subject);
      await Bun.sleep(10);
      await settle(right);
      return { admitted: true };
    } catch (error) {
      if (isAppError(error) && error.code === "rate_limited")
        return { admitted: false, retryAfter: Number(error.extra?.retry_after) };
      throw error;
    }
  }

  /** Lets `seconds` pass for every throttle row. */
  async function elapse(seconds: number): Promise<void> {
    await db.owner.query(
      `update auth_throttle set last_failure_at = last_failure_at - make_interval(secs => $1), locked_until = locked_until - make_interval(secs => $1),
         trusted_until = trusted_until - make_interval(secs => $1), expires_at = expires_at - make_interval(secs => $1)`,
      [seconds],
    );
  }

  /** Guesses wrong `times` times, waiting out every delay up to `patience` seconds; returns the evaluated count and the last refusal. */
  async function persist(
    subject: () => AttemptSubject,
    times: number,
    patience: number,
  ): Promise<{ evaluated: number; refusals: number[] }> {
    let evaluated = 0;
    const refusals: number[] = [];
    for (let i = 0; i < times; i++) {
      let outcome = await guess(subject());
      while (!outcome.admitted && outcome.retryAfter <= patience) {
        refusals.push(outcome.retryAfter);
        await elapse(outcome.retryAfter);
        outcome = await guess(subject());
      }
      if (outcome.admitted) evaluated++;
      else refusals.push(outcome.retryAfter);
    }
    return { evaluated, refusals };
  }

  test("40 parallel guesses from one address on one account: at most 10 evaluated, the rest refused with retry_after", async () => {
    const subject = { scope: "login" as const, account: account(), ip: "203.0.113.7" };
    const outcomes = await Promise.all(Array.from({ length: 40 }, () => guess(subject)));
    const evaluated = outcomes.filter((o) => o.admitted).length;
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThanOrEqual(10);
    for (const o of outcomes) if (!o.admitted) expect(o.retryAfter).toBeGreaterThan(0);
  });

  test("30 parallel MFA codes for one user from one address: at most 10 evaluated", async () => {
    const subject = { scope: "mfa" as const, account: "usr_01jvictim000000000000000000", ip: "203.0.113.8" };
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => guess(subject)));
    expect(outcomes.filter((o) => o.admitted).length).toBeLessThanOrEqual(10);
    expect(outcomes.filter((o) => !o.admitted).length).toBeGreaterThanOrEqual(20);
  });

  test("an attacker failing 15 times from A locks only A: the owner signs in from B, A stays locked 15 minutes even with the right password", async () => {
    const victim = account();
    const attack = await persist(() => ({ scope: "login", account: victim, ip: "198.51.100.66" }), 15, 60);
    expect(attack.evaluated).toBe(10);
    expect(attack.refusals.filter((s) => s > 60)).toHaveLength(5); // the pair is locked
    expect(Math.max(...attack.refusals)).toBeLessThanOrEqual(900);
    expect(Math.max(...attack.refusals)).toBeGreaterThan(890);

    // The owner, from another address: at most the account level's short delay, then in.
    let owner = await guess({ scope: "login", account: victim, ip: "192.0.2.10" }, true);
    if (!owner.admitted) {
      expect(owner.retryAfter).toBeLessThanOrEqual(60);
      await elapse(owner.retryAfter);
      owner = await guess({ scope: "login", account: victim, ip: "192.0.2.10" }, true);
    }
    expect(owner.admitted).toBe(true);

    // The right password from the locked address is refused until the lock ends.
    const locked = await guess({ scope: "login", account: victim, ip: "198.51.100.66" }, true);
    expect(locked).toMatchObject({ admitted: false });
    await elapse(850);
    expect(await guess({ scope: "login", account: victim, ip: "198.51.100.66" }, true)).toMatchObject({
      admitted: false,
    });
    await elapse(60);
    expect(await guess({ scope: "login", account: victim, ip: "198.51.100.66" }, true)).toEqual({ admitted: true });
  });

  test("a botnet slows an account to one guess a minute at most, never locks it, and never holds back the owner's usual address", async () => {
    const victim = account();
    expect(await guess({ scope: "login", account: victim, ip: "192.0.2.20" }, true)).toEqual({ admitted: true });
    let bot = 0;
    const botnet = await persist(
      () => ({ scope: "login", account: victim, ip: `10.66.${Math.floor(++bot / 250)}.${bot % 250}` }),
      40,
      60,
    );
    expect(botnet.evaluated).toBe(40); // each waited its turn...
    expect(botnet.refusals.length).toBeGreaterThan(20); // ...after the first 10
    expect(Math.max(...botnet.refusals)).toBe(60); // growing, capped at a minute: no lock
    // The owner's usual address is not held back, even right after a bot's guess.
    await elapse(60);
    expect(await guess({ scope: "login", account: victim, ip: `10.66.0.${++bot}` })).toEqual({ admitted: true });
    expect(await guess({ scope: "login", account: victim, ip: "192.0.2.20" }, true)).toEqual({ admitted: true });
    // A new address waits its turn, a minute at most.
    const fresh = await guess({ scope: "login", account: victim, ip: "192.0.2.21" }, true);
    expect(fresh).toMatchObject({ admitted: false });
    if (!fresh.admitted) expect(fresh.retryAfter).toBeLessThanOrEqual(60);
  });

  test("spraying 30 accounts from one address is throttled before the 30th, and the attacker's own sign-ins do not reset it", async () => {
    const sprayer = "198.51.100.99";
    const own = account();
    let evaluated = 0;
    let refusedAt = -1;
    for (let i = 0; i < 30 && refusedAt < 0; i++) {
      if (i % 5 === 4)
        expect(await guess({ scope: "login", account: own, ip: sprayer }, true)).toEqual({ admitted: true });
      const outcome = await guess({ scope: "login", account: account(), ip: sprayer });
      if (outcome.admitted) evaluated++;
      else refusedAt = i;
    }
    expect(refusedAt).toBeGreaterThanOrEqual(0);
    expect(refusedAt).toBeLessThan(29);
    expect(evaluated).toBeLessThanOrEqual(20);
    // The sprayed accounts' owners, from their own addresses, are not affected.
    expect(await guess({ scope: "login", account: `person-${n}@example.com`, ip: "192.0.2.30" }, true)).toEqual({
      admitted: true,
    });
  });

  test("rotating through the addresses of one IPv6 /64 counts as one address", async () => {
    expect(throttledAddress("2001:DB8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(throttledAddress("2001:db8:0001:0002:ffff::9")).toBe("2001:db8:1:2::/64");
    expect(throttledAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
    const victim = account();
    const rotation = await persist(
      () => ({ scope: "login", account: victim, ip: `2001:db8:1:2::${(++n).toString(16)}` }),
      12,
      0,
    );
    expect(rotation.evaluated).toBeLessThanOrEqual(5);
    expect(await guess({ scope: "login", account: victim, ip: "2001:db8:1:3::1" }, true)).toEqual({ admitted: true });
  });

  test("without an address only the account level applies: 10 free, then growing delays capped at a minute", async () => {
    const victim = account();
    const outcomes = await Promise.all(Array.from({ length: 25 }, () => guess({ scope: "login", account: victim })));
    expect(outcomes.filter((o) => o.admitted)).toHaveLength(10);
    const slow = await persist(() => ({ scope: "login", account: victim }), 10, 60);
    expect(slow.evaluated).toBe(10);
    expect(Math.max(...slow.refusals)).toBe(60);
  });

  test("the runtime role can neither read the counters nor reset them, and stale rows are swept", async () => {
    await persist(() => ({ scope: "login", account: "locked@example.com", ip: "203.0.113.50" }), 10, 60);
    const asApp = (sql: string) =>
      withoutTenant(db.app, (tx) => tx.query(sql)).then(
        () => "done",
        (error: Error) => (error.message.includes("permission denied") ? "denied" : error.message),
      );
    expect(await asApp("select count(*) from auth_throttle")).toBe("denied");
    expect(await asApp("delete from auth_throttle")).toBe("denied");
    expect(await asApp("select auth_throttle_lock(repeat('a', 64))")).toBe("denied");
    expect(await asApp("select auth_attempt_settle(repeat('a', 64), null, null, true)")).toBe("done"); // a wrong key resets nothing
    expect(await guess({ scope: "login", account: "locked@example.com", ip: "203.0.113.50" }, true)).toMatchObject({
      admitted: false,
    });

    await db.owner.query(
      "insert into auth_throttle (key, failures, expires_at) values (repeat('b', 64), 3, now() - interval '1 minute')",
    );
    await guess({ scope: "login", account: account() });
    expect(await db.owner.query("select key from auth_throttle where key = repeat('b', 64)")).toEqual([]);
  });
});
