// Brute-force throttling through the HTTP API on both engines: parallel wrong passwords and parallel wrong TOTP
// codes are counted before they are evaluated, refused with 429 + Retry-After, and the owner still gets in.
// app.fetch has no socket, so these requests carry no client address: the account level alone applies
// (per-address levels: test/db/throttle.test.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import * as OTPAuth from "otpauth";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describeEngines("brute-force throttle over HTTP", (kind) => {
  let db: TestDb;
  let app: HttpApp;
  let acme: OnboardResult;
  const call = async (path: string, body: unknown, token?: string) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await app.fetch(
      new Request(`http://localhost${path}`, { method: "POST", body: JSON.stringify(body), headers }),
    );
    return {
      status: response.status,
      retryAfterHeader: response.headers.get("retry-after"),
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  const audited = async (action: string) =>
    (
      await db.owner.query<{ n: number }>(
        "select count(*)::int as n from audit_log where workspace_id = $1 and action = $2",
        [acme.workspace_id, action],
      )
    )[0]?.n ?? 0;
  /** Lets `seconds` pass for the throttle. */
  const elapse = (seconds: number) =>
    db.owner.query(
      "update auth_throttle set last_failure_at = last_failure_at - make_interval(secs => $1), locked_until = locked_until - make_interval(secs => $1)",
      [seconds],
    );

  /** Invites a member and sets the password: returns it. */
  async function member(email: string): Promise<string> {
    const invite = await call("/v1/members", { email, role: "analyst" }, acme.admin_token);
    const password = "correct-horse-battery-9";
    expect((await call("/v1/auth/accept-invite", { invite_token: invite.body.invite_token, password })).status).toBe(
      200,
    );
    return password;
  }

  beforeAll(async () => {
    db = await createTestDb(kind);
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.com" }, kek);
    app = createApp(apiDeps(db, kek));
  });
  afterAll(() => db.dispose());

  test("40 parallel wrong passwords on one account: at most 10 evaluated and audited, the rest 429 with Retry-After; the owner then signs in", async () => {
    const password = await member("bo@acme.com");
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call("/v1/auth/login", { email: "bo@acme.com", password: `wrong-password-${i}` }),
      ),
    );
    const evaluated = answers.filter((a) => a.status === 401).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThanOrEqual(10);
    expect(evaluated + refused.length).toBe(40);
    expect(await audited("auth.login_failed")).toBe(evaluated);
    for (const r of refused) {
      expect(r.body).toMatchObject({ code: "rate_limited", status: 429 });
      expect(r.retryAfterHeader).toBe(String(r.body.retry_after));
      expect(Number(r.body.retry_after)).toBeGreaterThan(0);
    }

    // Not locked: the right password gets through after at most a minute.
    let owner = await call("/v1/auth/login", { email: "bo@acme.com", password });
    if (owner.status === 429) {
      expect(Number(owner.body.retry_after)).toBeLessThanOrEqual(60);
      await elapse(Number(owner.body.retry_after));
      owner = await call("/v1/auth/login", { email: "bo@acme.com", password });
    }
    expect(owner.status).toBe(200);
  });

  test("30 parallel wrong TOTP codes on one mfa_token: at most 10 evaluated and audited, the rest 429", async () => {
    const password = await member("cy@acme.com");
    const access = (await call("/v1/auth/login", { email: "cy@acme.com", password })).body.access_token as string;
    const enrol = await call("/v1/me/mfa/totp", {}, access);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.body.secret as string),
      digits: 6,
      period: 30,
    });
    expect((await call("/v1/me/mfa/totp/confirm", { code: totp.generate() }, access)).status).toBe(200);
    const login = await call("/v1/auth/login", { email: "cy@acme.com", password });
    const mfaToken = login.body.mfa_token as string;

    // Codes that are certainly wrong: none valid in the minutes around now.
    const valid = new Set(
      [-90, -60, -30, 0, 30, 60, 90].map((s) => totp.generate({ timestamp: Date.now() + s * 1000 })),
    );
    const wrong = Array.from({ length: 40 }, (_, i) => String(100000 + i * 7919))
      .filter((c) => !valid.has(c))
      .slice(0, 30);
    const before = await audited("auth.mfa_failed");
    const answers = await Promise.all(wrong.map((code) => call("/v1/auth/mfa/verify", { mfa_token: mfaToken, code })));
    const evaluated = answers.filter((a) => a.status === 401).length;
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(30 - evaluated);
    expect((await audited("auth.mfa_failed")) - before).toBe(evaluated);

    // The next step's code (the current one was spent confirming the enrolment; codes are single use).
    const right = totp.generate({ timestamp: Date.now() + 30_000 });
    let owner = await call("/v1/auth/mfa/verify", { mfa_token: mfaToken, code: right });
    if (owner.status === 429) {
      expect(Number(owner.body.retry_after)).toBeLessThanOrEqual(60);
      await elapse(Number(owner.body.retry_after));
      owner = await call("/v1/auth/mfa/verify", { mfa_token: mfaToken, code: right });
    }
    expect(owner.status).toBe(200);
  });
});
