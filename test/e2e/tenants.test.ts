// Onboarding and offboarding clients with the compiled binary, as an operator scripts it, while `serve`
// runs on the same PGlite data dir; and the SQL functions from psql on PostgreSQL 16.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onboardTenant, runBinary, startServe } from "../helpers/binary.ts";
import { createTestDb } from "../helpers/db.ts";

const dataDir = mkdtempSync(join(tmpdir(), "causeloop-e2e-tenants-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function me(url: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test("onboard two clients with the CLI, each token works on its own workspace only; offboard soft, restore, purge", async () => {
  const acmeRun = await runBinary([
    "onboard",
    "acme",
    "--name",
    "Acme Corp",
    "--admin-email",
    "ops@acme.com",
    "--data-dir",
    dataDir,
    "--json",
  ]);
  expect(acmeRun.code).toBe(0);
  const acme = JSON.parse(acmeRun.stdout) as Record<string, string>;
  expect(Object.keys(acme)).toEqual(
    expect.arrayContaining(["organization_id", "workspace_id", "admin_email", "admin_token"]),
  );

  const server = await startServe(["--data-dir", dataDir]);
  try {
    // With serve holding the data dir, the CLI goes through its control socket.
    const globexRun = await onboardTenant("globex", dataDir, ["--json"]);
    expect(globexRun.code).toBe(0);
    const globex = JSON.parse(globexRun.stdout) as Record<string, string>;

    const acmeMe = await me(server.url, acme.admin_token as string);
    expect(acmeMe.status).toBe(200);
    expect((acmeMe.body.workspace as { id: string }).id).toBe(acme.workspace_id as string);
    const globexMe = await me(server.url, globex.admin_token as string);
    expect((globexMe.body.workspace as { id: string }).id).toBe(globex.workspace_id as string);

    const duplicate = await runBinary([
      "onboard",
      "acme",
      "--name",
      "Acme Corp",
      "--admin-email",
      "ops@acme.com",
      "--data-dir",
      dataDir,
    ]);
    expect(duplicate.code).toBe(3);
    expect(duplicate.stderr).toContain('organization "acme" already exists');
    const idempotent = await runBinary([
      "onboard",
      "acme",
      "--name",
      "Acme Corp",
      "--admin-email",
      "ops@acme.com",
      "--if-not-exists",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    expect(idempotent.code).toBe(0);
    expect(JSON.parse(idempotent.stdout)).toMatchObject({ workspace_id: acme.workspace_id });
    expect(JSON.parse(idempotent.stdout).admin_token).toBeUndefined();

    const noConfirm = await runBinary(["offboard", "acme", "--mode", "purge", "--data-dir", dataDir]);
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.stderr).toContain("--yes");

    expect((await runBinary(["offboard", "acme", "--mode", "soft", "--yes", "--data-dir", dataDir])).code).toBe(0);
    const disabled = await me(server.url, acme.admin_token as string);
    expect(disabled.status).toBe(403);
    expect(disabled.body.code).toBe("workspace_disabled");
    expect((await runBinary(["tenants", "restore", "acme", "--data-dir", dataDir])).code).toBe(0);
    expect((await me(server.url, acme.admin_token as string)).status).toBe(200);

    const purge = await runBinary(["offboard", "acme", "--mode", "purge", "--yes", "--json", "--data-dir", dataDir]);
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toMatchObject({ mode: "purge", slug: "acme", status: "completed" });
    expect((await me(server.url, acme.admin_token as string)).status).toBe(401);
    expect((await me(server.url, globex.admin_token as string)).status).toBe(200);

    const verify = await runBinary(["audit", "verify", "--json", "--data-dir", dataDir]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    const exportFile = join(dataDir, "globex-audit.ndjson");
    expect(
      (
        await runBinary([
          "audit",
          "export",
          "--workspace",
          globex.workspace_id as string,
          "--out",
          exportFile,
          "--data-dir",
          dataDir,
        ])
      ).code,
    ).toBe(0);
    const offline = Bun.spawnSync([
      "bun",
      join(import.meta.dir, "..", "..", "scripts", "verify-audit-export.ts"),
      exportFile,
    ]);
    expect(offline.exitCode).toBe(0);
    // The binary verifies it too, with no database; one changed byte is caught with the reason.
    const verified = await runBinary(["audit", "verify-export", exportFile]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^OK: \d+ rows and \d+ signed checkpoints/);
    const tamperedFile = `${exportFile}.tampered`;
    writeFileSync(tamperedFile, readFileSync(exportFile, "utf8").replace('"action":"', '"action":"x'));
    const tampered = await runBinary(["audit", "verify-export", tamperedFile]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain("TAMPERED: row content does not match its hash");

    const list = JSON.parse((await runBinary(["tenants", "list", "--json", "--data-dir", dataDir])).stdout) as {
      slug: string;
    }[];
    expect(list.map((t) => t.slug)).toEqual(["globex"]);
    const records = JSON.parse(
      (await runBinary(["tenants", "offboardings", "acme", "--json", "--data-dir", dataDir])).stdout,
    ) as { mode: string }[];
    expect(records.map((r) => r.mode)).toEqual(["purge", "restore", "soft"]);

    // The tenant's own audit trail went with it; the operator log keeps the offboarding history, chained
    // and verified with the rest.
    const history = JSON.parse(
      (await runBinary(["audit", "operator-log", "--json", "--data-dir", dataDir])).stdout,
    ) as { action: string; target_id: string; actor_id: string; after: { slug?: string } }[];
    const acmeHistory = history.filter((h) => h.after?.slug === "acme").map((h) => h.action);
    expect(acmeHistory.slice(0, 3)).toEqual(["tenant.purged", "tenant.restored", "tenant.offboarded"]);
    expect(history.find((h) => h.action === "tenant.purged")?.actor_id).toMatch(/^operator:/);
    expect(history.filter((h) => h.action === "migration.applied").length).toBeGreaterThanOrEqual(14);
    expect(JSON.parse(verify.stdout).operator_log).toMatchObject({ workspace_id: "operator", ok: true });
    // The purge re-wrapped globex's data key under a new master key: audited in globex, by the operator.
    const rewrapped = (await (
      await fetch(`${server.url}/v1/audit?action=key.kek_rewrapped`, {
        headers: { authorization: `Bearer ${globex.admin_token}` },
      })
    ).json()) as { data: { actor_id: string; actor_type: string }[] };
    expect(rewrapped.data[0]).toMatchObject({
      actor_type: "operator",
      actor_id: expect.stringMatching(/^operator:.+/),
    });
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

test("onboard_client() and offboard_client() work from psql against PostgreSQL 16", async () => {
  const db = await createTestDb("postgres");
  try {
    const url = db.ownerUrl as string;
    const psql = Bun.which("psql");
    const run = async (sql: string): Promise<string> => {
      if (!psql) {
        // No psql client on this machine: the same SQL through a plain simple-protocol query.
        const rows = await db.owner.query<Record<string, unknown>>(sql);
        return JSON.stringify(Object.values(rows[0] ?? {})[0]);
      }
      const proc = Bun.spawn([psql, url, "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      if (code !== 0) throw new Error(err);
      return out.trim();
    };
    const onboarded = JSON.parse(await run("SELECT onboard_client('acme', 'Acme Corp', 'ops@acme.com')")) as Record<
      string,
      string
    >;
    expect(onboarded.admin_token).toMatch(/^clp_pat_/);
    const purged = JSON.parse(await run("SELECT offboard_client('acme', 'purge')")) as {
      mode: string;
      row_counts: Record<string, number>;
    };
    expect(purged.mode).toBe("purge");
    expect(purged.row_counts.personal_access_tokens).toBe(1);
    const left = await db.owner.query<{ n: number }>("select count(*)::int as n from workspaces where id = $1", [
      onboarded.workspace_id,
    ]);
    expect(left[0]?.n).toBe(0);
  } finally {
    await db.dispose();
  }
});
