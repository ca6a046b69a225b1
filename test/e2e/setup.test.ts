// The README's PostgreSQL quick start on the compiled binary: one `causeloop setup` against PostgreSQL 16,
// with a superuser owner and with a CREATEROLE-only owner (the managed-database case), then `serve` from the
// env file alone; a repeat keeps the password, --rotate changes it. And an owner URL alone never means a
// surprise embedded database.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { migrations } from "../../db/migrations/index.ts";
import { parseEnvFile } from "../../src/operator/env-file.ts";
import { runBinary, startServe } from "../helpers/binary.ts";
import { startDedicatedPostgres, type DedicatedPostgres } from "../helpers/postgres-server.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "causeloop-setup-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function asSuperuser(url: string, statements: string[]): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const statement of statements) await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}

/**
 * The README's PostgreSQL quick start, as written there: its two commands (comments and line continuations
 * removed), with the owner URL put in and its ./ paths made absolute in a directory of the test's own.
 */
function readmeQuickStart(ownerUrl: string, workdir: string): { setup: string[]; serve: string[] } {
  const readme = readFileSync(join(import.meta.dir, "..", "..", "README.md"), "utf8");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("PostgreSQL setup is one command")))?.[1] ?? "";
  const commands = block
    .replace(/#.*$/gm, "")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === "causeloop")
    .map((words) =>
      words
        .slice(1)
        .map((w) => (w.startsWith("postgres://") ? ownerUrl : w.startsWith("./") ? join(workdir, w.slice(2)) : w)),
    );
  const [setup, serve] = commands;
  expect(setup?.slice(0, 2)).toEqual(["setup", "--database-owner-url"]);
  expect(serve).toContain("serve");
  // startServe adds `serve --port <free port>` itself.
  return { setup: setup as string[], serve: (serve as string[]).filter((w) => w !== "serve") };
}

/** Follows the quick start: setup, then serve with nothing but the env file. */
async function quickStart(ownerUrl: string, ownerPassword: string) {
  const home = tempDir();
  const workdir = tempDir();
  const readme = readmeQuickStart(ownerUrl, workdir);
  const state = join(workdir, "causeloop-state");
  const envFile = join(workdir, "causeloop.env");
  expect(readme.setup).toEqual([
    "setup",
    "--database-owner-url",
    ownerUrl,
    "--state-dir",
    state,
    "--env-file",
    envFile,
  ]);
  const setup = await runBinary(readme.setup, { HOME: home });
  expect(setup.stderr).toBe("");
  expect(setup.code).toBe(0);
  expect(setup.stdout).toContain(`migrations: applied ${migrations.length}`);
  expect(setup.stdout).toContain("password generated");
  expect(setup.stdout).toMatch(/master key: generated in .*master\.key/);
  expect(setup.stdout).toContain("Ready.");
  expect(setup.stdout).not.toContain("FAIL");
  expect(statSync(envFile).mode & 0o777).toBe(0o600);
  const written = parseEnvFile(readFileSync(envFile, "utf8"));
  expect(new URL(written.DATABASE_URL as string).username).toBe("causeloop_app");
  expect(written.CAUSELOOP_DATA_DIR).toBe(state);
  expect(written.CAUSELOOP_MASTER_KEY_FILE).toBe(join(state, "master.key"));
  // The owner's credentials are used, never stored or printed.
  expect(readFileSync(envFile, "utf8")).not.toContain(ownerPassword);
  expect(setup.stdout).not.toContain(ownerPassword);
  for (const key of ["master.key", "audit-signing.key", "jwt.secret", "rtbf.key", "export-link.key"])
    expect(statSync(join(state, key)).mode & 0o777).toBe(0o600);
  // Nothing landed in the home directory.
  expect(existsSync(join(home, ".local"))).toBe(false);

  const serve = await startServe(readme.serve, { HOME: home });
  try {
    expect(serve.output()).toContain('"engine":"postgres"');
    const unauthenticated = await fetch(`${serve.url}/v1/issues`);
    expect(unauthenticated.status).toBe(401);
  } finally {
    expect(await serve.stop()).toBe(0);
  }

  // Again: nothing to apply, the password kept (the same DATABASE_URL), doctor still green.
  const again = await runBinary(
    ["setup", "--database-owner-url", ownerUrl, "--state-dir", state, "--env-file", envFile],
    { HOME: home },
  );
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("migrations: up to date");
  expect(again.stdout).toContain("password kept");
  expect(again.stdout).toContain("master key: kept,");
  expect(parseEnvFile(readFileSync(envFile, "utf8")).DATABASE_URL).toBe(written.DATABASE_URL);

  // --rotate: a new password in the file, and the file still works.
  const rotated = await runBinary(
    ["setup", "--database-owner-url", ownerUrl, "--state-dir", state, "--env-file", envFile, "--rotate"],
    { HOME: home },
  );
  expect(rotated.code).toBe(0);
  expect(rotated.stdout).toContain("password rotated");
  const after = parseEnvFile(readFileSync(envFile, "utf8")).DATABASE_URL;
  expect(after).not.toBe(written.DATABASE_URL);
  const doctor = await runBinary(["--env-file", envFile, "doctor"], { HOME: home });
  expect(doctor.code).toBe(0);
  return { envFile, state, home };
}

describe("causeloop setup on PostgreSQL 16", () => {
  // Servers of their own: causeloop_app is one role per cluster, and setup sets its password. The
  // CREATEROLE-only owner needs a cluster where no one else made that role yet.
  let dedicated: DedicatedPostgres | undefined;
  let superuserServer: DedicatedPostgres | undefined;
  beforeAll(async () => {
    [dedicated, superuserServer] = await Promise.all([startDedicatedPostgres(), startDedicatedPostgres()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dedicated?.dispose(), superuserServer?.dispose()]);
  });

  test("with an owner that has CREATEROLE but is not a superuser", async () => {
    const server = dedicated as DedicatedPostgres;
    await asSuperuser(server.superuserUrl(), [
      "CREATE ROLE cl_owner LOGIN CREATEROLE PASSWORD 'owner-secret-4711'",
      "CREATE DATABASE causeloop OWNER cl_owner",
    ]);
    const ownerUrl = `postgres://cl_owner:owner-secret-4711@127.0.0.1:${server.port}/causeloop`;
    await quickStart(ownerUrl, "owner-secret-4711");
    // The runtime role is what the owner made it: no superuser, no BYPASSRLS, and the owner is no superuser.
    const sql = postgres(server.superuserUrl(), { max: 1 });
    try {
      const roles = await sql`select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles
                              where rolname in ('cl_owner', 'causeloop_app') order by rolname`;
      expect(roles.map((r) => ({ ...r }))).toEqual([
        { rolname: "causeloop_app", rolsuper: false, rolbypassrls: false, rolcanlogin: true },
        { rolname: "cl_owner", rolsuper: false, rolbypassrls: false, rolcanlogin: true },
      ]);
    } finally {
      await sql.end();
    }
  }, 180_000);

  test("with a superuser owner", async () => {
    const shared = superuserServer as DedicatedPostgres;
    const database = `setup_${Date.now()}`;
    await asSuperuser(shared.superuserUrl(), [`CREATE DATABASE ${database}`]);
    const ownerUrl = shared.superuserUrl(database);
    await quickStart(ownerUrl, new URL(ownerUrl).password);
  }, 180_000);

  test("an owner URL alone means PostgreSQL: migrate and roles setup never create an embedded database", async () => {
    const shared = superuserServer as DedicatedPostgres;
    const database = `owner_only_${Date.now()}`;
    await asSuperuser(shared.superuserUrl(), [`CREATE DATABASE ${database}`]);
    const home = tempDir();
    const env = { HOME: home, DATABASE_OWNER_URL: shared.superuserUrl(database) };
    const migrate = await runBinary(["migrate"], env);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain("applied 0001_foundation");
    const roles = await runBinary(["roles", "setup"], env);
    expect(roles.code).toBe(0);
    const status = await runBinary(["migrate", "status", "--json"], env);
    expect(JSON.parse(status.stdout).pending).toBe(0);
    // serve and doctor need the runtime role's URL: a clear error naming setup, not an embedded database.
    const doctor = await runBinary(["doctor"], env);
    expect(doctor.code).toBe(2);
    expect(doctor.stderr).toContain("causeloop setup");
    expect(existsSync(join(home, ".local"))).toBe(false);
    // Without any URL and without --data-dir, a new embedded database is announced, not silent.
    const embedded = await runBinary(["migrate", "status"], { HOME: home });
    expect(embedded.code).toBe(0);
    expect(embedded.stderr).toContain("a new embedded database is created in");
  }, 120_000);
});
