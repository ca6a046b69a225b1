// The client's real address, over a real socket on both engines: an untrusted peer's X-Forwarded-For is
// ignored (nobody chooses the address their audit rows and throttles are keyed on); behind a trusted proxy the
// forwarded client is used; and per-address throttling then really fires (password spraying from one address).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp, type HttpApp } from "../../src/http/app.ts";
import { clientAddress, parseTrustedProxies } from "../../src/http/client-ip.ts";
import { onboard, type OnboardResult } from "../../src/tenancy/service.ts";
import { LocalKeyRing } from "../../src/secrets/keyring.ts";
import { apiDeps } from "../helpers/app.ts";
import { createTestDb, describeEngines, type TestDb } from "../helpers/db.ts";

describe("client address", () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  test("a peer that is not a trusted proxy is the client, whatever it forwards", () => {
    const none = parseTrustedProxies("");
    expect(clientAddress("203.0.113.5", headers({ "x-forwarded-for": "198.51.100.1" }), none)).toBe("203.0.113.5");
    expect(clientAddress("::ffff:127.0.0.1", headers({}), none)).toBe("127.0.0.1");
    expect(clientAddress(undefined, headers({ "x-forwarded-for": "198.51.100.1" }), none)).toBeUndefined();
    expect(
      clientAddress("10.0.0.9", headers({ "x-forwarded-for": "198.51.100.1" }), parseTrustedProxies("127.0.0.1")),
    ).toBe("10.0.0.9");
  });
  test("behind trusted proxies the chain is walked from the right to the first untrusted hop", () => {
    const trusted = parseTrustedProxies("127.0.0.1, 10.0.0.0/8, ::1");
    expect(clientAddress("127.0.0.1", headers({ "x-forwarded-for": "1.1.1.1, 198.51.100.7, 10.1.2.3" }), trusted)).toBe(
      "198.51.100.7",
    );
    expect(
      clientAddress("::1", headers({ forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"' }), trusted),
    ).toBe("2001:db8::1");
    expect(clientAddress("127.0.0.1", headers({ "x-forwarded-for": "garbage, 10.0.0.1" }), trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", headers({ "x-forwarded-for": "10.0.0.1" }), trusted)).toBe("10.0.0.1");
    expect(clientAddress("127.0.0.1", headers({}), trusted)).toBe("127.0.0.1");
  });
  test("a bad entry is refused naming it", () => {
    expect(() => parseTrustedProxies("10.0.0.0/33")).toThrow("10.0.0.0/33");
    expect(() => parseTrustedProxies("proxy.internal")).toThrow("proxy.internal");
  });
});

describeEngines("client address over a real socket", (kind) => {
  let db: TestDb;
  let acme: OnboardResult;
  const servers: ReturnType<typeof Bun.serve>[] = [];
  const serve = (trusted: string) => {
    const kek = new LocalKeyRing(Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"));
    const app: HttpApp = createApp(apiDeps(db, kek, { trustedProxies: parseTrustedProxies(trusted) }));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, s) => app.fetch(request, s.requestIP(request)?.address),
    });
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  };
  const login = (url: string, email: string, forwarded?: string) =>
    fetch(`${url}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(forwarded ? { "x-forwarded-for": forwarded } : {}) },
      body: JSON.stringify({ email, password: "wrong-password-123" }),
    });
  const lastFailureIp = async () =>
    (
      await db.owner.query<{ ip: string | null }>(
        "select host(ip) as ip from audit_log where workspace_id = $1 and action = 'auth.login_failed' order by seq desc limit 1",
        [acme.workspace_id],
      )
    )[0]?.ip;

  beforeAll(async () => {
    db = await createTestDb(kind);
    acme = await onboard(db.owner, { slug: "acme", name: "Acme", adminEmail: "ops@acme.example" });
  });
  afterAll(async () => {
    for (const s of servers) s.stop(true);
    await db.dispose();
  });

  test("an untrusted peer's forwarded header is ignored; a trusted proxy's names the client", async () => {
    expect((await login(serve(""), "ops@acme.example", "198.51.100.7")).status).toBe(401);
    expect(await lastFailureIp()).toBe("127.0.0.1");
    expect((await login(serve("127.0.0.1"), "ops@acme.example", "198.51.100.7")).status).toBe(401);
    expect(await lastFailureIp()).toBe("198.51.100.7");
  });

  test("password spraying: 20 failed logins on 20 accounts from one address are refused before the 20th", async () => {
    const url = serve("127.0.0.1");
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login(url, `victim-${i}@spray.example`, "203.0.113.66")).status);
    const firstRefused = statuses.indexOf(429);
    expect(firstRefused).toBeGreaterThan(0);
    expect(firstRefused).toBeLessThan(19);
    expect((await login(url, "someone-else@spray.example", "203.0.113.67")).status).toBe(401);
  });
});
