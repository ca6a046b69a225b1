// Governance with the compiled binary: an erasure request submitted through the API, reviewed and approved
// from the CLI through the running server, its certificate verified offline; and a server killed while an
// erasure or an export was in progress finishes it after restart.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, startServe, onboardAcme } from "../helpers/binary.ts";
import { openPglite } from "../../src/db/engine.ts";

const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-rtbf-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test("submit, review and approve an erasure, verify its certificate; a killed server finishes a processing erasure on restart", async () => {
  const onboarded = JSON.parse((await onboardAcme(dataDir, ["--json"])).stdout) as { admin_token: string };
  const headers = { authorization: `Bearer ${onboarded.admin_token}`, "content-type": "application/json" };
  let server = await startServe(["--data-dir", dataDir]);
  const submit = async (email: string) =>
    (
      (await (
        await fetch(`${server.url}/v1/governance/rtbf/requests`, {
          method: "POST",
          headers,
          body: JSON.stringify({ email }),
        })
      ).json()) as { id: string }
    ).id;
  const first = await submit("jane@example.com");
  const listed = JSON.parse((await runBinary(["rtbf", "list", "--json", "--data-dir", dataDir])).stdout) as {
    id: string;
    status: string;
  }[];
  expect(listed.map((r) => `${r.id}:${r.status}`)).toEqual([`${first}:received`]);
  expect((await runBinary(["rtbf", "reject", first, "--data-dir", dataDir])).code).toBe(2); // --reason is required
  const unconfirmed = await runBinary(["rtbf", "approve", first, "--data-dir", dataDir]);
  expect(unconfirmed.code).toBe(2);
  expect(unconfirmed.stderr).toContain("--yes");
  const approved = await runBinary(["rtbf", "approve", first, "--yes", "--data-dir", dataDir]);
  expect(approved.stdout).toContain("COMPLETED");
  // The approval ran inside serve (control socket) on the PGlite connection, which also vacuumed at once.
  const shown = await runBinary(["rtbf", "show", first, "--data-dir", dataDir]);
  expect(shown.stdout).toMatch(/vacuum\s+done/);
  expect(JSON.parse((await runBinary(["rtbf", "vacuum", "--json", "--data-dir", dataDir])).stdout)).toMatchObject({
    requests: [],
  });
  const cert = await (
    await fetch(`${server.url}/v1/governance/rtbf/requests/${first}/certificate`, { headers })
  ).text();
  writeFileSync(join(dataDir, "cert.json"), cert);
  writeFileSync(join(dataDir, "jwks.json"), await (await fetch(`${server.url}/.well-known/jwks.json`)).text());
  const verified = await runBinary([
    "rtbf",
    "verify-certificate",
    join(dataDir, "cert.json"),
    "--jwks",
    join(dataDir, "jwks.json"),
  ]);
  expect(verified.code).toBe(0);
  expect(verified.stdout).toContain("VALID");
  // Without --jwks, the installation's own key (its data dir) verifies it too.
  const own = await runBinary(["rtbf", "verify-certificate", join(dataDir, "cert.json"), "--data-dir", dataDir]);
  expect(own.stdout).toContain("VALID");
  // A data dir without the key is a clear error, never a freshly generated key that calls the certificate forged.
  const elsewhere = join(dataDir, "elsewhere");
  const nokey = await runBinary(["rtbf", "verify-certificate", join(dataDir, "cert.json"), "--data-dir", elsewhere]);
  expect(nokey.code).toBe(2);
  expect(nokey.stderr).toContain("--jwks");
  expect(nokey.stderr).toContain("--data-dir");
  expect(existsSync(join(elsewhere, "audit-signing.key"))).toBe(false);
  writeFileSync(
    join(dataDir, "forged.json"),
    cert.replace(
      /"certificate":"([^.]+)\.([^.]+)\./,
      (_, h: string, p: string) => `"certificate":"${h}.${p.slice(0, -3)}AAA.`,
    ),
  );
  expect(
    (
      await runBinary([
        "rtbf",
        "verify-certificate",
        join(dataDir, "forged.json"),
        "--jwks",
        join(dataDir, "jwks.json"),
      ])
    ).code,
  ).toBe(1);

  // A second request is approved, and the server dies (SIGKILL) before the erasure commits: the approval
  // committed `processing`, the erasure transaction never did. That state is set here directly.
  const second = await submit("crash@example.com");
  expect(await server.stop("SIGKILL")).not.toBe(0);
  const db = await openPglite(dataDir);
  await db.query("update rtbf_requests set status = 'processing' where id = $1", [second]);
  await db.close();

  server = await startServe(["--data-dir", dataDir]);
  try {
    let status = "";
    for (let i = 0; i < 50 && status !== "completed/completed"; i++) {
      const view = (await (await fetch(`${server.url}/v1/governance/rtbf/requests/${second}`, { headers })).json()) as {
        status: string;
        vacuum_status: string | null;
      };
      status = `${view.status}/${view.vacuum_status}`;
      if (status !== "completed/completed") await Bun.sleep(200);
    }
    expect(status).toBe("completed/completed"); // erased by rtbf.resume, then vacuumed by serve's worker
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test("an export whose server was killed mid-build completes after restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "causeloop-e2e-export-"));
  try {
    const onboarded = JSON.parse((await onboardAcme(dir, ["--json"])).stdout) as { admin_token: string };
    const headers = { authorization: `Bearer ${onboarded.admin_token}`, "content-type": "application/json" };
    let server = await startServe(["--data-dir", dir]);
    const id = (
      (await (await fetch(`${server.url}/v1/governance/exports`, { method: "POST", headers })).json()) as { id: string }
    ).id;
    expect(await server.stop("SIGKILL")).not.toBe(0);
    // Whatever the kill interrupted, leave the job as a dead worker would: claimed, half-built.
    const db = await openPglite(dir);
    await db.query(
      "update jobs set status = 'running', locked_by = 'worker-dead', locked_until = now() + interval '1 hour', attempts = 1 where payload->>'export_id' = $1",
      [id],
    );
    await db.query("update export_jobs set status = 'running' where id = $1", [id]);
    await db.close();
    server = await startServe(["--data-dir", dir]);
    try {
      let view = { status: "" } as { status: string; download?: { url: string }; sha256?: string };
      for (let i = 0; i < 50 && view.status !== "completed"; i++) {
        view = (await (await fetch(`${server.url}/v1/governance/exports/${id}`, { headers })).json()) as typeof view;
        if (view.status !== "completed") await Bun.sleep(200);
      }
      expect(view.status).toBe("completed");
      const archive = Buffer.from(await (await fetch(`${server.url}${view.download?.url}`)).arrayBuffer());
      expect(new Bun.CryptoHasher("sha256").update(archive).digest("hex")).toBe(view.sha256 as string);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
