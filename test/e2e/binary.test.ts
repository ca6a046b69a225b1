// The compiled binary end to end, as an operator uses it: serve, readiness, operator commands through the
// running server, the data-dir lock, graceful SIGTERM, the PostgreSQL role guard, and clear errors.
import { migrations } from "../../db/migrations/index.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledBinary, freePort, runBinary, startServe } from "../helpers/binary.ts";
import { createTestDb, type TestDb } from "../helpers/db.ts";
import { postgresServer } from "../helpers/postgres-server.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "causeloop-e2e-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The compiled server validates and coerces input as the sources do (the build once broke query coercion). */
async function expectInputChecked(url: string, token: string): Promise<void> {
  const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  for (const limit of ["999999", "-1", "0", "1e9", "1%200", "abc"]) {
    const response = await get(`/v1/issues?limit=${limit}`);
    expect({ limit, status: response.status }).toEqual({ limit, status: 422 });
  }
  expect((await get("/v1/issues?limit=2")).status).toBe(200);
  expect((await get(`/v1/issues?created_after=0000-01-01`)).status).toBe(422);
  const login = await fetch(`${url}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "ops\u0000@acme.example", password: "x" }),
  });
  expect(login.status).toBe(422);
}

describe("compiled binary on PGlite", () => {
  test("serve on a fresh data dir, /readyz 200, operator commands through the running server, SIGTERM exits cleanly", async () => {
    const dataDir = tempDir();
    const server = await startServe(["--data-dir", dataDir]);
    try {
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { status: string };
      expect(ready.status).toBe("ready");
      expect(existsSync(join(dataDir, "control.sock"))).toBe(true);

      const doctor = await runBinary(["doctor", "--data-dir", dataDir, "--json"]);
      expect(doctor.code).toBe(0);
      expect(JSON.parse(doctor.stdout)).toMatchObject({ ok: true });

      const migrate = await runBinary(["migrate", "--data-dir", dataDir, "--json"]);
      expect(migrate.code).toBe(0);
      expect(JSON.parse(migrate.stdout).applied).toEqual([]);

      const onboarded = await runBinary([
        "onboard",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "ops@acme.example",
        "--data-dir",
        dataDir,
        "--json",
      ]);
      expect(onboarded.code).toBe(0);
      await expectInputChecked(server.url, JSON.parse(onboarded.stdout).admin_token);

      const second = await runBinary(["serve", "--data-dir", dataDir, "--port", "0"]);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain("is in use by causeloop serve");
      expect(second.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      const code = await server.stop("SIGTERM");
      expect(code).toBe(0);
    }
    expect(server.output()).toContain('"event":"serve.stopped"');
    expect(existsSync(join(dataDir, "causeloop.lock"))).toBe(false);
    expect(existsSync(join(dataDir, "control.sock"))).toBe(false);

    // A later start on the same data dir keeps the data and needs no migration.
    const again = await startServe(["--data-dir", dataDir]);
    expect(await again.stop()).toBe(0);
  });

  test("an operator command on a data dir nobody serves opens it itself", async () => {
    const dataDir = tempDir();
    const migrate = await runBinary(["migrate", "--data-dir", dataDir]);
    expect(migrate.code).toBe(0);
    // The new database came from the template embedded in the binary: already migrated, so nothing to apply.
    expect(migrate.stdout).toContain(`Nothing to apply: ${migrations.length} migrations already applied`);
    const status = await runBinary(["migrate", "status", "--data-dir", dataDir, "--json"]);
    expect(JSON.parse(status.stdout).pending).toBe(0);
    const roles = await runBinary(["roles", "check", "--data-dir", dataDir]);
    expect(roles.code).toBe(0);
  });

  test("a data dir that lost files is refused with the next step, never re-initialized", async () => {
    const dataDir = tempDir();
    expect((await runBinary(["migrate", "--data-dir", dataDir])).code).toBe(0);
    rmSync(join(dataDir, "pgdata", "PG_VERSION"));
    const serve = await runBinary(["migrate", "status", "--data-dir", dataDir]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("PG_VERSION is missing");
    expect(serve.stderr).toContain("restore the data dir from a backup");
    expect(existsSync(join(dataDir, "pgdata", "PG_VERSION"))).toBe(false); // nothing was created over it
    // A damaged control file: the data dir and the next step, not "unexpected error: Aborted()".
    const damaged = tempDir();
    expect((await runBinary(["migrate", "--data-dir", damaged])).code).toBe(0);
    writeFileSync(join(damaged, "pgdata", "global", "pg_control"), "");
    const opened = await runBinary(["migrate", "status", "--data-dir", damaged]);
    expect(opened.code).toBe(2);
    expect(opened.stderr).toContain(`${join(damaged, "pgdata")} cannot be opened`);
    expect(opened.stderr).toContain("restore the data dir from a backup");
  });

  test("bad input is one line on stderr and exit code 2, never a stack trace", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["serve", "--port", "99999"], {}, /port must be a whole number/],
      [["doctor"], { DATABASE_URL: "postgres://u:hunter2pass@" }, /DATABASE_URL/],
      [
        ["doctor"],
        { DATABASE_URL: "postgres://u:hunter2pass@127.0.0.1:1/db" },
        /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/db/,
      ],
      [["migrate"], { DATABASE_URL: "postgres://u:hunter2pass@127.0.0.1:1/db" }, /DATABASE_OWNER_URL is not set/],
      [["no-such-command"], {}, /unknown command/],
      [["audit", "operator-log", "--limit", "5000"], {}, /--limit must be a whole number from 1 to 1000/],
      [["audit", "operator-log", "--before", "x"], {}, /--before must be a positive integer/],
      [
        ["doctor"],
        { CAUSELOOP_OUTBOUND_ALLOWLIST: "idp.corp,10.0.0.0/33" },
        /^causeloop: error: CAUSELOOP_OUTBOUND_ALLOWLIST: '10\.0\.0\.0\/33' is not a valid CIDR/,
      ],
      [
        ["doctor"],
        {
          CAUSELOOP_IDP_JWKS_URL: "https://svc:hunter2pass@idp.example.com/jwks",
          CAUSELOOP_IDP_ISSUER: "https://idp.example.com/",
        },
        /CAUSELOOP_IDP_JWKS_URL must not contain credentials/,
      ],
    ];
    for (const [args, env, message] of cases) {
      const result = await runBinary(args, env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain("hunter2pass");
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  test("demo serves a seeded throw-away database, prints how to call it and cleans up on Ctrl-C", async () => {
    const port = await freePort();
    const proc = Bun.spawn([await compiledBinary(), "demo", "--port", String(port)], {
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", CAUSELOOP_LOG_LEVEL: "warn" },
    });
    let stderr = "";
    const reader = (async () => {
      for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    const deadline = Date.now() + 60_000;
    while (!stderr.includes("Stop with Ctrl-C") && Date.now() < deadline) await Bun.sleep(100);
    expect(stderr).toContain("Seeded organization 'demo'");
    // The printed curl commands, run as printed, return the demo's data.
    const curls = [...stderr.matchAll(/^ {2}(curl .+)$/gm)].map((m) => m[1] as string);
    expect(curls).toHaveLength(3);
    const outputs: string[] = [];
    for (const command of curls) {
      const run = Bun.spawn(["sh", "-c", `${command} -s -f`], { stdout: "pipe" });
      outputs.push(await new Response(run.stdout).text());
      expect(await run.exited).toBe(0);
    }
    const [issues, members, audit] = outputs.map((o) => JSON.parse(o) as { data: Record<string, unknown>[] });
    expect(issues?.data.length).toBe(7);
    expect(new Set(members?.data.map((m) => m.role))).toEqual(new Set(["owner", "admin", "analyst", "viewer"]));
    expect(audit?.data.length).toBe(5);
    // The erased customer's email is gone from the issue they reported; the password signs in.
    expect(JSON.stringify(issues)).not.toContain("former.customer@example.com");
    const email = /email {5}(\S+)/.exec(stderr)?.[1];
    const password = /password {2}(\S+)/.exec(stderr)?.[1];
    const login = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    expect(stderr).toContain("causeloop tui --data-dir");
    const dir = /embedded PGlite in (\S+?),/.exec(stderr)?.[1] as string;
    expect(existsSync(dir)).toBe(true);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    await reader;
    expect(existsSync(dir)).toBe(false);
  });

  test("--help and --version", async () => {
    const help = await runBinary(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "demo", "migrate", "roles", "doctor"]) expect(help.stdout).toContain(command);
    const serveHelp = await runBinary(["serve", "--help"]);
    expect(serveHelp.stdout).toContain("Examples:");
    // The version, the commit it was built from and when.
    const version = await runBinary(["--version"]);
    expect(version.stdout.trim()).toMatch(
      /^causeloop \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(\+dirty)?, built \d{4}-\d\d-\d\dT/,
    );
    const json = JSON.parse((await runBinary(["version", "--json"])).stdout) as Record<string, string>;
    expect(Object.keys(json).sort()).toEqual(["built_at", "commit", "version"]);
    expect(version.stdout).toContain(json.commit as string);
  });
});

describe("compiled binary on PostgreSQL 16", () => {
  let db: TestDb;
  afterAll(() => db?.dispose());

  test("roles setup, doctor and serve as the runtime role; a superuser runtime role is refused", async () => {
    db = await createTestDb("postgres");
    const server = await postgresServer();
    const masterKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    const env = {
      DATABASE_URL: db.databaseUrl as string,
      DATABASE_OWNER_URL: db.ownerUrl as string,
      CAUSELOOP_MASTER_KEY: masterKey,
    };

    const setup = await runBinary(["roles", "setup", "--password-stdin"], env, "app-role-test-password-0123456789\n");
    expect(setup.code).toBe(0);
    expect(setup.stdout).not.toContain("app-role-test-password");
    const doctor = await runBinary(["doctor", "--json"], env);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.stdout).ok).toBe(true);

    const noKey = await runBinary(["serve", "--port", "0"], { DATABASE_URL: env.DATABASE_URL });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("CAUSELOOP_MASTER_KEY or CAUSELOOP_MASTER_KEY_FILE is required");
    // A green doctor means serve starts: without the master key, doctor fails too, and says why.
    const doctorNoKey = await runBinary(["doctor", "--json"], { DATABASE_URL: env.DATABASE_URL });
    const report = JSON.parse(doctorNoKey.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    expect(doctorNoKey.code).not.toBe(0);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === "master key")).toMatchObject({ ok: false });
    expect(report.checks.find((c) => c.name === "master key")?.detail).toContain("CAUSELOOP_MASTER_KEY");
    for (const key of [
      "audit signing key",
      "access-token secret",
      "RTBF subject-ref key",
      "export-link key",
      "state directory",
    ])
      expect(report.checks.find((c) => c.name === key)?.ok).toBe(true);
    const serve = await startServe([], env);
    const ready = (await (await fetch(`${serve.url}/readyz`)).json()) as { checks: { name: string; ok: boolean }[] };
    expect(ready.checks.every((c) => c.ok)).toBe(true);
    const onboarded = await runBinary(
      ["onboard", "acme", "--name", "Acme", "--admin-email", "ops@acme.example", "--json"],
      env,
    );
    expect(onboarded.code).toBe(0);
    await expectInputChecked(serve.url, JSON.parse(onboarded.stdout).admin_token);
    expect(await serve.stop()).toBe(0);

    const superuserUrl = server.superuserUrl(new URL(db.ownerUrl as string).pathname.slice(1));
    const refused = await runBinary(["serve", "--port", "0"], { DATABASE_URL: superuserUrl });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing to serve");
    expect(refused.stderr).toContain("is a superuser");
    expect(refused.stderr).toContain("causeloop roles setup");

    const insecure = await startServe(["--insecure-allow-bypass-rls"], {
      DATABASE_URL: superuserUrl,
      CAUSELOOP_MASTER_KEY: masterKey,
    });
    expect(insecure.output()).toContain("security.insecure");
    expect(await insecure.stop()).toBe(0);
  });

  test("serve refuses a database that is behind the binary and names the fix", async () => {
    const fresh = await createTestDb("postgres", { migrated: false });
    try {
      const server = await postgresServer();
      const env = { DATABASE_URL: fresh.ownerUrl as string, DATABASE_OWNER_URL: fresh.ownerUrl as string };
      const refused = await runBinary(["serve", "--port", "0", "--insecure-allow-bypass-rls"], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("causeloop migrate");
      expect(server.port).toBeGreaterThan(0);
    } finally {
      await fresh.dispose();
    }
  });
});
