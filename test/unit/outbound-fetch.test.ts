// The guarded fetch against real receivers on loopback: a target that is not allowed never receives a
// request (counted), whatever the spelling, DNS answer or redirect; allowlisted ones work; deadlines and the
// size cap hold; the connection pinned to the checked address still verifies TLS against the host name.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { guardedFetch } from "../../src/net/fetch.ts";
import { outboundPolicy, OutboundRefused } from "../../src/net/policy.ts";

const hits = new Map<string, number>();
const receiver = (
  name: string,
  answer: (request: Request) => Response | Promise<Response> = () => new Response("ok"),
) =>
  Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      hits.set(name, (hits.get(name) ?? 0) + 1);
      return answer(request);
    },
  });
const target = receiver("target", (request) => Response.json({ host: request.headers.get("host") }));
const other = receiver("other");
const redirector = receiver(
  "redirector",
  (request) =>
    new Response(null, { status: 302, headers: { location: new URL(request.url).searchParams.get("to") ?? "/" } }),
);
const huge = receiver("huge", (request) =>
  new URL(request.url).pathname === "/declared"
    ? new Response("x".repeat(4096))
    : new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1024)) })),
);
const slow = receiver("slow", async () => {
  await Bun.sleep(5_000);
  return new Response("late");
});
afterAll(() => {
  for (const server of [target, other, redirector, huge, slow]) server.stop(true);
});

const refused = async (promise: Promise<unknown>): Promise<string> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundRefused);
  return (error as Error).message;
};

test("without an allowlist no loopback spelling, name or mapped form reaches the receiver", async () => {
  const strict = outboundPolicy();
  const port = target.port;
  for (const url of [
    `http://127.0.0.1:${port}/`,
    `https://127.0.0.1:${port}/`,
    `https://2130706433:${port}/`,
    `https://0x7f.1:${port}/`,
    `https://[::ffff:127.0.0.1]:${port}/`,
    `https://[::1]:${port}/`,
  ]) {
    expect(await refused(guardedFetch(url, {}, strict))).toMatch(/https|address/);
  }
  // A host name is refused after DNS resolution: localhost resolves to a loopback address.
  expect(await refused(guardedFetch(`https://localhost:${port}/`, {}, strict))).toMatch(
    /^host localhost resolves to (127\.0\.0\.1|::1), a loopback address$/,
  );
  expect(await refused(guardedFetch(`https://user:pw@localhost:${port}/`, {}, strict))).toMatch(/credentials/);
  expect(hits.get("target") ?? 0).toBe(0);
});

test("an allowlisted address or host is fetched; the Host header stays the URL's host", async () => {
  const byCidr = outboundPolicy({ allowlist: "127.0.0.0/8" });
  const response = await guardedFetch(`http://127.0.0.1:${target.port}/keys`, {}, byCidr);
  expect(await response.json()).toEqual({ host: `127.0.0.1:${target.port}` });
  const byName = outboundPolicy({ allowlist: "localhost" });
  expect(await (await guardedFetch(`http://localhost:${target.port}/keys`, {}, byName)).json()).toEqual({
    host: `localhost:${target.port}`,
  });
  // A CIDR lifts the address block for https only: plain http needs the host itself listed.
  expect(await refused(guardedFetch(`http://localhost:${target.port}/keys`, {}, byCidr))).toMatch(/https/);
  expect(hits.get("target")).toBe(2);
});

test("redirects are checked hop by hop: a redirect to a target the policy refuses is never followed", async () => {
  const policy = outboundPolicy({ allowlist: "localhost" });
  const via = (to: string) => `http://localhost:${redirector.port}/?to=${encodeURIComponent(to)}`;
  for (const to of [
    `http://127.0.0.1:${other.port}/`,
    `https://169.254.169.254/latest/meta-data/`,
    `http://[::ffff:127.0.0.1]:${other.port}/`,
    `https://u:p@localhost:${other.port}/`,
  ]) {
    await refused(guardedFetch(via(to), {}, policy));
  }
  expect(hits.get("other") ?? 0).toBe(0);
  const followed = await guardedFetch(via(`http://localhost:${other.port}/fine`), {}, policy);
  expect([followed.status, await followed.text()]).toEqual([200, "ok"]);
  expect(hits.get("other")).toBe(1);
  // redirect: "manual" (what jose asks for) hands back the 3xx itself.
  expect((await guardedFetch(via(`http://127.0.0.1:${other.port}/`), { redirect: "manual" }, policy)).status).toBe(302);
  expect(await refused(guardedFetch(via("/"), {}, policy))).toMatch(/more than 3 redirects/);
});

test("the response size cap and the deadline hold", async () => {
  const policy = outboundPolicy({ allowlist: "127.0.0.1", maxBytes: 1024, timeoutMs: 300 });
  expect(await refused(guardedFetch(`http://127.0.0.1:${huge.port}/declared`, {}, policy))).toMatch(
    /larger than 1024 bytes/,
  );
  expect(await refused(guardedFetch(`http://127.0.0.1:${huge.port}/endless`, {}, policy))).toMatch(
    /larger than 1024 bytes/,
  );
  const started = performance.now();
  expect(await refused(guardedFetch(`http://127.0.0.1:${slow.port}/`, {}, policy))).toMatch(/timed out/);
  expect(performance.now() - started).toBeLessThan(4_000);
});

test("the connection pinned to the checked address verifies TLS against the host name", {
  timeout: 30_000,
}, async () => {
  // NODE_EXTRA_CA_CERTS is read at start, so the client runs in its own process trusting a test-only cert.
  const fixtures = join(import.meta.dir, "..", "fixtures", "tls");
  const tlsServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: {
      cert: Bun.file(join(fixtures, "localhost.test-only.crt")),
      key: Bun.file(join(fixtures, "localhost.test-only.key")),
    },
    fetch: (request) => Response.json({ host: request.headers.get("host") }),
  });
  try {
    const client = `
      import { guardedFetch } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "net", "fetch.ts"))};
      import { outboundPolicy } from ${JSON.stringify(join(import.meta.dir, "..", "..", "src", "net", "policy.ts"))};
      const policy = outboundPolicy({ allowlist: "127.0.0.1/32, ::1" });
      const out = async (url) => { try { return (await (await guardedFetch(url, {}, policy)).json()).host; } catch (e) { return e.name + ": " + e.message; } };
      console.log(JSON.stringify([await out("https://localhost:${tlsServer.port}/"), await out("https://127.0.0.1:${tlsServer.port}/")]));`;
    // Asynchronous: the server answering it lives in this process.
    const run = Bun.spawn([process.execPath, "-e", client], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, "localhost.test-only.crt") },
      stdout: "pipe",
      stderr: "inherit",
    });
    const [byName, byAddress] = JSON.parse((await new Response(run.stdout).text()).trim()) as [string, string];
    // Resolved and checked by the guard, connected to 127.0.0.1, verified as "localhost".
    expect(byName).toBe(`localhost:${tlsServer.port}`);
    // The same server reached by its address has no certificate for it: verification is still on.
    expect(byAddress).toMatch(/^OutboundRefused: request to 127\.0\.0\.1:\d+ failed \(ERR_TLS_CERT_ALTNAME_INVALID\)$/);
  } finally {
    tlsServer.stop(true);
  }
});
