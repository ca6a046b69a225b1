// Native TLS with the compiled binary: `serve --tls-cert --tls-key` answers HTTPS with HSTS; SIGHUP re-reads a
// renewed certificate without dropping the connection already open (it gets its answer) while new connections
// see the new certificate; a broken file on reload leaves the running certificate in place.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { startServe, type ServeProcess } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "causeloop-tls-"));
const file = (name: string) => join(dir, name);
let serve: ServeProcess;

async function selfSigned(name: string): Promise<void> {
  const proc = Bun.spawn(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      file(`${name}.key`),
      "-out",
      file(`${name}.crt`),
    ],
    { stdout: "ignore", stderr: "ignore" },
  );
  if ((await proc.exited) !== 0) throw new Error("openssl failed");
}

/** The subject of the certificate a new TLS connection is shown. */
async function subject(url: string): Promise<string> {
  const { port } = new URL(url);
  const proc = Bun.spawn(
    ["sh", "-c", `echo | openssl s_client -connect 127.0.0.1:${port} 2>/dev/null | openssl x509 -noout -subject`],
    { stdout: "pipe" },
  );
  return (await new Response(proc.stdout).text()).trim();
}

beforeAll(async () => {
  await selfSigned("causeloop-old");
  await selfSigned("causeloop-new");
  copyFileSync(file("causeloop-old.crt"), file("server.crt"));
  copyFileSync(file("causeloop-old.key"), file("server.key"));
  serve = await startServe([
    "--data-dir",
    file("data"),
    "--tls-cert",
    file("server.crt"),
    "--tls-key",
    file("server.key"),
  ]);
}, 120_000);
afterAll(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("HTTPS with the given certificate, and HSTS on every answer", async () => {
  expect(serve.url).toStartWith("https://");
  const response = await fetch(`${serve.url}/healthz`, {
    tls: { ca: await Bun.file(file("causeloop-old.crt")).text() },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("strict-transport-security")).toContain("max-age=");
  expect(await subject(serve.url)).toContain("causeloop-old");
});

test("SIGHUP: a renewed certificate for new connections; a request in flight still gets its answer", async () => {
  const { port } = new URL(serve.url);
  let received = "";
  const socket = tls.connect({ host: "127.0.0.1", port: Number(port), rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("utf8");
  });
  const ask = async () => {
    received = "";
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    for (let i = 0; i < 100 && !received.includes('"status"'); i++) await Bun.sleep(50);
    return received;
  };
  expect(await ask()).toStartWith("HTTP/1.1 200");
  // A request in flight across the reload: its headers and half its body now, the rest after SIGHUP.
  const body = JSON.stringify({ email: "nobody@example.com", password: "not-the-password-1" });
  received = "";
  socket.write(
    `POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  await Bun.sleep(200);

  copyFileSync(file("causeloop-new.crt"), file("server.crt"));
  copyFileSync(file("causeloop-new.key"), file("server.key"));
  serve.proc.kill("SIGHUP");
  for (let i = 0; i < 100 && !serve.output().includes("serve.tls_reloaded"); i++) await Bun.sleep(50);
  expect(serve.output()).toContain("serve.tls_reloaded");

  socket.write(body.slice(10));
  for (let i = 0; i < 100 && !received.includes('"code"'); i++) await Bun.sleep(50);
  expect(received).toStartWith("HTTP/1.1 401"); // answered by the listener it started on, not dropped
  socket.end();
  expect(await subject(serve.url)).toContain("causeloop-new");
  expect(
    (await fetch(`${serve.url}/healthz`, { tls: { ca: await Bun.file(file("causeloop-new.crt")).text() } })).status,
  ).toBe(200);
});

test("SIGHUP with a broken certificate file keeps the running one and says why", async () => {
  writeFileSync(file("server.crt"), "not a certificate");
  serve.proc.kill("SIGHUP");
  for (let i = 0; i < 100 && !serve.output().includes("serve.tls_reload_failed"); i++) await Bun.sleep(50);
  expect(serve.output()).toContain("serve.tls_reload_failed");
  expect(await subject(serve.url)).toContain("causeloop-new");
  expect((await fetch(`${serve.url}/healthz`, { tls: { rejectUnauthorized: false } })).status).toBe(200);
});
