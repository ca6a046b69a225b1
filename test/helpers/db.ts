// Fresh, migrated databases for tests on BOTH engines. Every test builds its own: PGlite copies a migrated
// template data dir; PostgreSQL 16 creates a database from a migrated template database.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { describe } from "bun:test";
import { loadConfig, parseDatabaseUrl, type Config, type EngineKind } from "../../src/config.ts";
import { openPglite, openPostgres, type Engine } from "../../src/db/engine.ts";
import { migrate } from "../../src/db/migrate.ts";
import { setupAppRole } from "../../src/db/system.ts";
import { postgresServer } from "./postgres-server.ts";

export const ENGINES: EngineKind[] = ["pglite", "postgres"];
export const APP_PASSWORD = "app-role-test-password-0123456789";

export interface TestDb {
  kind: EngineKind;
  /** Owner-level connection: DDL, onboarding, the catalog. */
  owner: Engine;
  /** The runtime connection: PGlite's single connection (door switches role); PostgreSQL as causeloop_app. */
  app: Engine;
  /** A Config pointing at this database, as `serve` or the CLI would build it. */
  config: Config;
  /** PGlite: the data dir; PostgreSQL: the runtime and owner URLs. */
  dataDir?: string;
  databaseUrl?: string;
  ownerUrl?: string;
  /** Closes connections and removes the data. */
  dispose(): Promise<void>;
}

let pgliteTemplate: Promise<string> | undefined;
let postgresTemplate: Promise<void> | undefined;
let counter = 0;

function pgliteTemplateDir(): Promise<string> {
  pgliteTemplate ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "causeloop-tpl-"));
    const engine = await openPglite(dir);
    await migrate(engine);
    await setupAppRole(engine);
    await engine.close();
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  })();
  return pgliteTemplate;
}

async function ensurePostgresTemplate(): Promise<void> {
  postgresTemplate ??= (async () => {
    const server = await postgresServer();
    const admin = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
    await admin.unsafe("drop database if exists causeloop_template");
    await admin.unsafe("create database causeloop_template");
    await admin.end();
    const engine = await openPostgres(parseDatabaseUrl(server.superuserUrl("causeloop_template"), "template"), 2);
    await migrate(engine);
    await setupAppRole(engine, { password: APP_PASSWORD });
    await engine.close();
  })();
  return postgresTemplate;
}

export async function createTestDb(kind: EngineKind, options: { migrated?: boolean } = {}): Promise<TestDb> {
  const migrated = options.migrated ?? true;
  if (kind === "pglite") {
    const dataDir = mkdtempSync(join(tmpdir(), "causeloop-test-"));
    if (migrated) cpSync(await pgliteTemplateDir(), dataDir, { recursive: true });
    const engine = await openPglite(dataDir);
    return {
      kind,
      owner: engine,
      app: engine,
      dataDir,
      config: loadConfig({ CAUSELOOP_DATA_DIR: dataDir, CAUSELOOP_LOG_LEVEL: "error" }),
      dispose: async () => {
        await engine.close().catch(() => {});
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const server = await postgresServer();
  if (migrated) await ensurePostgresTemplate();
  const name = `test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
  await admin.unsafe(migrated ? `create database ${name} template causeloop_template` : `create database ${name}`);
  await admin.end();
  const ownerUrl = server.superuserUrl(name);
  const databaseUrl = `postgres://causeloop_app:${APP_PASSWORD}@127.0.0.1:${server.port}/${name}`;
  const owner = await openPostgres(parseDatabaseUrl(ownerUrl, "owner"), 4);
  const app = migrated ? await openPostgres(parseDatabaseUrl(databaseUrl, "app"), 4) : owner;
  return {
    kind,
    owner,
    app,
    databaseUrl,
    ownerUrl,
    config: loadConfig({ DATABASE_URL: databaseUrl, DATABASE_OWNER_URL: ownerUrl, CAUSELOOP_LOG_LEVEL: "error" }),
    dispose: async () => {
      await app.close().catch(() => {});
      if (app !== owner) await owner.close().catch(() => {});
      const drop = postgres(server.superuserUrl(), { onnotice: () => {}, max: 1 });
      await drop.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await drop.end();
    },
  };
}

/** Runs the same suite on PGlite and on PostgreSQL 16. */
export function describeEngines(name: string, fn: (kind: EngineKind) => void): void {
  for (const kind of ENGINES) describe(`${name} [${kind}]`, () => fn(kind));
}
