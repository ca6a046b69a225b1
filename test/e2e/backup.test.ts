// Backups with the compiled binary: taken while `serve` runs (through its control socket), listed, verified,
// restored into a new data dir that `serve` then serves with the same issues; a `causeloop backup` killed
// with SIGKILL leaves nothing listed and the next run succeeds. The same on Debian's PostgreSQL 15 with its own
// pg_dump 15: a round trip into a new, empty database that `audit verify`, `doctor` and `serve` accept.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDatabaseUrl } from "../../src/config.ts";
import { openPglite, openPostgres, type Engine } from "../../src/db/engine.ts";
import { parseEnvFile } from "../../src/operator/env-file.ts";
import { compiledBinary, onboardAcme, runBinary, startServe } from "../helpers/binary.ts";
import { createTestDb } from "../helpers/db.ts";
import { PG15_BIN_DIR, pg15Missing, startPostgres15, type Postgres15 } from "../helpers/postgres15-server.ts";

const root = mkdtempSync(join(tmpdir(), "causeloop-e2e-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface IssueList {
  data: { id: string; title: string }[];
}

/** Two tenants (Acme and Globex) onboarded with the binary; Acme's admin token. */
async function onboardTwo(args: string[], env: Record<string, string> = {}): Promise<string> {
  const tenants = [
    ["acme", "Acme", "ops@acme.com"],
    ["globex", "Globex", "ops@globex.com"],
  ];
  const runs = [];
  for (const [slug, name, email] of tenants)
    runs.push(
      await runBinary(
        ["onboard", slug as string, "--name", name as string, "--admin-email", email as string, "--json", ...args],
        env,
      ),
    );
  for (const run of runs) expect(run.code).toBe(0);
  return (JSON.parse(runs[0]?.stdout ?? "{}") as { admin_token: string }).admin_token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json" });

/** Creates issues through the API; returns the list after. */
async function postIssues(url: string, token: string, titles: string[]): Promise<IssueList> {
  for (const title of titles) {
    const created = await fetch(`${url}/v1/issues`, {
      method: "POST",
      headers: bearer(token),
      body: JSON.stringify({ title, severity: "high" }),
    });
    expect(created.status).toBe(201);
  }
  return (await (await fetch(`${url}/v1/issues`, { headers: bearer(token) })).json()) as IssueList;
}

const THREE = ["disk full on db-1", "latency on checkout", "cert expires soon"];

test("back up while serve runs, verify, restore into a new data dir and serve the same issues", async () => {
  const dataDir = join(root, "live");
  const token = await onboardTwo(["--data-dir", dataDir]);
  const auth = bearer(token);
  const server = await startServe(["--data-dir", dataDir]);
  let before: IssueList;
  let id: string;
  try {
    before = await postIssues(server.url, token, THREE);
    expect(before.data.length).toBe(3);

    // Checkpoints anchored before the backup are carried into the restored data dir, later ones are not.
    expect((await runBinary(["audit", "checkpoint", "--data-dir", dataDir])).code).toBe(0);
    const backup = await runBinary(["backup", "--json", "--data-dir", dataDir]);
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { id: string; workspaces: number; manifest: string };
    id = result.id;
    expect(result.workspaces).toBe(2);
    // The server kept serving, and the backup ran inside it: its operator log has the record.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const log = await runBinary([
      "audit",
      "operator-log",
      "--action",
      "backup.created",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    expect(log.stdout).toContain(id);

    const listed = await runBinary(["backup", "list", "--json", "--data-dir", dataDir]);
    expect((JSON.parse(listed.stdout) as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([id]);
    const verified = await runBinary(["backup", "verify", id, "--data-dir", dataDir]);
    expect(verified.stdout).toContain(`OK: backup ${id} verified`);
    expect(verified.code).toBe(0);

    // A change after the backup, which the restore must not bring back.
    await fetch(`${server.url}/v1/issues`, { method: "POST", headers: auth, body: JSON.stringify({ title: "later" }) });
  } finally {
    await server.stop();
  }

  const restoredDir = join(root, "restored");
  const restored = await runBinary(["restore", id, "--data-dir", dataDir, "--to-data-dir", restoredDir, "--json"]);
  expect(restored.stderr).toBe("");
  expect(restored.code).toBe(0);
  const carried = JSON.parse(restored.stdout) as { anchors: { kept: number; dropped: number }; copied_keys: string[] };
  expect(carried.anchors.kept).toBeGreaterThan(0);
  expect(carried.anchors.dropped).toBeGreaterThan(0);
  expect(carried.copied_keys).toContain("master.key");
  const refused = await runBinary(["restore", id, "--data-dir", dataDir, "--to-data-dir", restoredDir]);
  expect(refused.code).toBe(3);
  expect(refused.stderr.trim().split("\n")).toEqual([
    `causeloop: error: ${restoredDir} is not empty: restore into a new directory, or add --force to move it aside`,
  ]);
  const audit = await runBinary(["audit", "verify", "--data-dir", restoredDir]);
  expect(audit.stdout).toContain(`anchors: ${carried.anchors.kept} checked`);
  expect(audit.code).toBe(0);
  const second = await startServe(["--data-dir", restoredDir]);
  try {
    const after = (await (await fetch(`${second.url}/v1/issues`, { headers: auth })).json()) as IssueList;
    expect(after.data.map((i) => [i.id, i.title]).sort()).toEqual(before.data.map((i) => [i.id, i.title]).sort());
  } finally {
    await second.stop();
  }
}, 240_000);

/** About 60 MB of issues (2 KB of random hex each) in the first workspace: a backup still writing when killed. */
async function addBallast(engine: Engine, rows: number): Promise<void> {
  const [ws] = await engine.query<{ id: string }>("select id from workspaces limit 1");
  await engine.query(
    `insert into issues (workspace_id, id, title, body, created_by)
     select $1, 'iss_' || lpad(to_hex(g), 26, '0'), 'ballast ' || g,
            (select string_agg(md5(random()::text || g || s), '') from generate_series(1, 64) s), 'usr_ballast'
       from generate_series(1, ${rows}) g`,
    [ws?.id],
  );
}

/** `causeloop backup` killed with SIGKILL while it writes: nothing listed; the next run cleans up and succeeds. */
async function killedBackupThenNext(backups: string, args: string[], env: Record<string, string>): Promise<void> {
  const proc = Bun.spawn([await compiledBinary(), "backup", ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      CAUSELOOP_LOG_LEVEL: "warn",
      ...env,
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const partial = () => existsSync(backups) && readdirSync(backups).some((n) => n.endsWith(".partial"));
  while (!partial() && proc.exitCode === null) await Bun.sleep(5);
  proc.kill("SIGKILL");
  expect(await proc.exited).not.toBe(0);
  expect(readdirSync(backups).some((n) => n.endsWith(".partial"))).toBe(true);
  const listed = await runBinary(["backup", "list", "--json", ...args], env);
  expect((JSON.parse(listed.stdout) as { backups: unknown[] }).backups).toEqual([]);

  const next = await runBinary(["backup", "--json", ...args], env);
  expect(next.stderr).toBe("");
  expect(next.code).toBe(0);
  const result = JSON.parse(next.stdout) as { id: string; removed_leftovers: string[] };
  expect(result.removed_leftovers.length).toBeGreaterThan(0);
  expect(readdirSync(backups).sort()).toEqual([`${result.id}.clbk`, `${result.id}.manifest.json`]);
  const relisted = await runBinary(["backup", "list", "--json", ...args], env);
  expect((JSON.parse(relisted.stdout) as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([result.id]);
}

test("kill -9 during a backup leaves no listed backup; the next run cleans up and succeeds", async () => {
  const dataDir = join(root, "big");
  expect((await onboardAcme(dataDir)).code).toBe(0);
  const engine = await openPglite(dataDir);
  try {
    await addBallast(engine, 30_000);
  } finally {
    await engine.close();
  }
  await killedBackupThenNext(join(dataDir, "backups"), ["--data-dir", dataDir], {});
}, 240_000);

const pg15 = pg15Missing();
if (pg15) console.warn(`SKIPPED: the PostgreSQL 15 backup tests need Debian's PostgreSQL 15: ${pg15}`);

describe.skipIf(Boolean(pg15))("backups on PostgreSQL 15 (pg_dump 15) with the compiled binary", () => {
  let server: Postgres15;
  beforeAll(async () => {
    server = await startPostgres15();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  /** `causeloop setup` on a new database of the PG15 server: the env file's variables plus the owner URL. */
  async function installation(name: string): Promise<Record<string, string>> {
    const ownerUrl = await server.createEmptyDatabase(name);
    const home = join(root, `${name}-home`);
    const state = join(root, `${name}-state`);
    const envFile = join(root, `${name}.env`);
    const setup = await runBinary(
      ["setup", "--database-owner-url", ownerUrl, "--state-dir", state, "--env-file", envFile],
      { HOME: home },
    );
    expect(setup.code).toBe(0);
    const written = parseEnvFile(readFileSync(envFile, "utf8")) as Record<string, string>;
    return { ...written, HOME: home, DATABASE_OWNER_URL: ownerUrl, CAUSELOOP_PG_BIN_DIR: PG15_BIN_DIR };
  }

  test("back up while serve runs, verify, restore into an empty database: audit verify, doctor and serve accept it", async () => {
    const env = await installation("live");
    const token = await onboardTwo([], env);
    const serve = await startServe([], env);
    let before: IssueList;
    let id: string;
    try {
      before = await postIssues(serve.url, token, THREE);
      const backup = await runBinary(["backup", "--json"], env);
      expect(backup.stderr).toBe("");
      expect(backup.code).toBe(0);
      const result = JSON.parse(backup.stdout) as { id: string; workspaces: number; manifest: string };
      id = result.id;
      expect(result.workspaces).toBe(2);
      const manifest = JSON.parse(readFileSync(result.manifest, "utf8")) as { manifest: { engine: string } };
      expect(manifest.manifest.engine).toBe("postgres");
      expect((await fetch(`${serve.url}/readyz`)).status).toBe(200);
      const listed = await runBinary(["backup", "list", "--json"], env);
      expect((JSON.parse(listed.stdout) as { backups: { id: string }[] }).backups.map((b) => b.id)).toEqual([id]);
      const verified = await runBinary(["backup", "verify", id], env);
      expect(verified.stdout).toContain(`OK: backup ${id} verified`);
      expect(verified.code).toBe(0);
      await postIssues(serve.url, token, ["later"]);
    } finally {
      await serve.stop();
    }

    const target = await server.createEmptyDatabase("restored");
    const restored = await runBinary(["restore", id, "--to-database-url", target, "--json"], env);
    expect(restored.stderr).toBe("");
    expect(restored.code).toBe(0);
    const carried = JSON.parse(restored.stdout) as { anchors: { file: string; kept: number; dropped: number } };
    expect(JSON.parse(restored.stdout)).toMatchObject({ id, created_roles: [], verification: { ok: true } });
    expect(carried.anchors.dropped).toBeGreaterThan(0);
    const refused = await runBinary(["restore", id, "--to-database-url", target], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toBe(
      `causeloop: error: database 127.0.0.1:${server.port}/restored is not empty: restore into a new, empty database, or add --force to replace its contents\n`,
    );
    const runtime = new URL(env.DATABASE_URL as string);
    runtime.pathname = "/restored";
    const restoredEnv = {
      ...env,
      DATABASE_OWNER_URL: target,
      DATABASE_URL: runtime.toString(),
      CAUSELOOP_AUDIT_ANCHOR_FILE: carried.anchors.file,
    };
    const audit = await runBinary(["audit", "verify"], restoredEnv);
    expect(audit.code).toBe(0);
    const doctor = await runBinary(["doctor"], restoredEnv);
    expect(doctor.stdout).not.toContain("FAIL");
    expect(doctor.code).toBe(0);
    const second = await startServe([], restoredEnv);
    try {
      const after = (await (await fetch(`${second.url}/v1/issues`, { headers: bearer(token) })).json()) as IssueList;
      expect(after.data.map((i) => [i.id, i.title]).sort()).toEqual(before.data.map((i) => [i.id, i.title]).sort());
    } finally {
      await second.stop();
    }
  }, 300_000);

  test("kill -9 during a PostgreSQL backup leaves no listed backup; the next run cleans up and succeeds", async () => {
    const env = await installation("big");
    await onboardTwo([], env);
    const owner = await openPostgres(parseDatabaseUrl(env.DATABASE_OWNER_URL as string, "owner"), 1);
    try {
      await addBallast(owner, 30_000);
    } finally {
      await owner.close();
    }
    await killedBackupThenNext(join(env.CAUSELOOP_DATA_DIR as string, "backups"), [], env);
  }, 300_000);
});

test.skipIf(Boolean(pg15))(
  "on PostgreSQL 16 with pg_dump 15, `causeloop backup` says what to install, in one line",
  async () => {
    const db = await createTestDb("postgres");
    try {
      const run = await runBinary(["backup"], {
        DATABASE_OWNER_URL: db.ownerUrl as string,
        CAUSELOOP_DATA_DIR: join(root, "pg16-state"),
        CAUSELOOP_MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
        CAUSELOOP_PG_BIN_DIR: PG15_BIN_DIR,
      });
      expect(run.stderr).toMatch(
        /^causeloop: error: pg_dump 15\.\S+ is older than the PostgreSQL 16 server: install a PostgreSQL 16 client \(or set CAUSELOOP_PG_BIN_DIR\)\n$/,
      );
      expect(run.code).toBe(2);
    } finally {
      await db.dispose();
    }
  },
  120_000,
);
