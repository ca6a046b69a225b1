// Continuous isolation attestation on a running server (compiled binary): on PostgreSQL 16, RLS disabled on
// one tenant table by the owner is noticed within one attestation period: /readyz answers 503 naming the
// table, the alert is logged, and the operator log holds the signed failed attestation. On PGlite the same
// from the attestation at start.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attestationPayload, type Attestation } from "../../src/security/attestation.ts";
import { compiledBinary, freePort, runBinary, startServe } from "../helpers/binary.ts";
import { openPglite } from "../../src/db/engine.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";

let db: TestDb | undefined;
const dir = mkdtempSync(join(tmpdir(), "causeloop-attest-"));
afterAll(async () => {
  await db?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(200);
  }
}

test("RLS disabled on a live tenant table: /readyz 503 naming it, the alert, the signed record", async () => {
  db = await createTestDb("postgres");
  const d = db;
  const serve = await startServe([], {
    DATABASE_URL: d.databaseUrl as string,
    DATABASE_OWNER_URL: d.ownerUrl as string,
    CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    CAUSELOOP_DATA_DIR: dir,
    CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "1",
  });
  try {
    const readyz = async () => {
      const response = await fetch(`${serve.url}/readyz`);
      return {
        status: response.status,
        body: (await response.json()) as { checks?: { name: string; detail: string }[]; detail?: string },
      };
    };
    await until("a passed attestation", async () => {
      const r = await readyz();
      const check = r.body.checks?.find((c) => c.name === "isolation attestation");
      return r.status === 200 && check?.detail.startsWith("passed") ? true : undefined;
    });

    await d.owner.exec("ALTER TABLE issues NO FORCE ROW LEVEL SECURITY; ALTER TABLE issues DISABLE ROW LEVEL SECURITY");
    const failed = await until("/readyz to fail", async () => {
      const r = await readyz();
      return r.status === 503 ? r.body : undefined;
    });
    expect(failed.detail).toContain("isolation attestation: failed");
    expect(failed.detail).toContain("issues");
    expect(serve.output()).toContain('"event":"security.attestation_failed"');

    const [row] = await d.owner.query<{ after: Attestation }>(
      "select after from operator_log where action = 'isolation.attestation_failed' order by seq desc limit 1",
    );
    const attestation = row?.after as Attestation;
    expect(attestation.violations).toContain("issues: inside A, SELECT sees 1 of B's rows");
    const jwks = (await (await fetch(`${serve.url}/.well-known/jwks.json`)).json()) as {
      keys: { x: string; kid: string }[];
    };
    const jwk = jwks.keys.find((k) => k.kid === attestation.key_id);
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: jwk?.x },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    const valid = await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      Buffer.from(attestation.signature, "base64url"),
      new TextEncoder().encode(attestationPayload(attestation)),
    );
    expect(valid).toBe(true);

    // The alert, as the operator reads it with the binary.
    const owner = { DATABASE_OWNER_URL: d.ownerUrl as string, CAUSELOOP_DATA_DIR: dir };
    const listed = await runBinary(["alerts", "list", "--status", "open", "--json"], owner);
    expect(listed.code).toBe(0);
    const [alert] = JSON.parse(listed.stdout) as { id: string; rule: string; severity: string; summary: string }[];
    expect(alert).toMatchObject({ rule: "isolation_attestation_failed", severity: "critical" });
    expect(alert?.summary).toContain("issues");

    // Repaired: the next attestation passes, /readyz is ready again and the alert resolves itself.
    await d.owner.exec("ALTER TABLE issues ENABLE ROW LEVEL SECURITY; ALTER TABLE issues FORCE ROW LEVEL SECURITY");
    await until("/readyz to recover", async () => ((await readyz()).status === 200 ? true : undefined));
    const after = await runBinary(["alerts", "list", "--json"], owner);
    expect(JSON.parse(after.stdout)).toMatchObject([{ id: alert?.id, status: "resolved" }]);
  } finally {
    expect(await serve.stop()).toBe(0);
  }
}, 120_000);

test("on PGlite: a data dir whose table lost RLS is served not ready, naming it, with the signed failure recorded", async () => {
  const dataDir = join(dir, "pglite");
  // The embedded database cannot be altered from outside while serve runs: the owner's change is made
  // between two runs, and the attestation at start must catch it.
  const first = await startServe(["--data-dir", dataDir], { CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "1" });
  expect(await first.stop()).toBe(0);
  let engine = await openPglite(dataDir);
  await engine.exec("ALTER TABLE issues NO FORCE ROW LEVEL SECURITY; ALTER TABLE issues DISABLE ROW LEVEL SECURITY");
  await engine.close();

  const port = await freePort();
  const serve = Bun.spawn([await compiledBinary(), "serve", "--port", String(port), "--data-dir", dataDir], {
    env: { PATH: process.env.PATH ?? "", HOME: dir, CAUSELOOP_ATTESTATION_INTERVAL_SECONDS: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const failed = await until("/readyz to fail", async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (response?.status !== 503) return undefined;
      const body = (await response.json()) as { detail: string };
      return body.detail.includes("isolation attestation: failed") ? body : undefined;
    });
    expect(failed.detail).toContain("issues");
  } finally {
    serve.kill("SIGTERM");
    expect(await serve.exited).toBe(0);
  }
  engine = await openPglite(dataDir);
  try {
    const [row] = await engine.query<{ after: Attestation }>(
      "select after from operator_log where action = 'isolation.attestation_failed' order by seq desc limit 1",
    );
    expect(row?.after.violations).toContain("issues: inside A, SELECT sees 1 of B's rows");
    expect(row?.after.signature).toMatch(/^[A-Za-z0-9_-]{86}$/);
  } finally {
    await engine.close();
  }
  const listed = await runBinary(["alerts", "list", "--data-dir", dataDir, "--json"], { HOME: dir });
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout)).toMatchObject([{ rule: "isolation_attestation_failed", status: "open" }]);
}, 120_000);
