// `causeloop setup`: a PostgreSQL installation in one command that cannot misfire. As the owner: migrate,
// create or repair causeloop_app and set its password (generated the first time, kept on a repeat unless
// rotated), generate the master key ring and the server keys in the state directory if absent, write one env
// file (0600) that `serve` runs from, then run doctor with exactly that file's settings.
import { chownSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, parseDatabaseUrl, type Config } from "../config.ts";
import { generatePassword } from "../db/system.ts";
import { AppError } from "../errors.ts";
import { loadServerKeys, SERVER_KEY_FILES } from "../keys.ts";
import { loadKeyRing, MASTER_KEY_FILE } from "../secrets/keyring.ts";
import { openOwner } from "./database.ts";
import { readEnvFile, writeEnvFile } from "./env-file.ts";
import { runOperation } from "./transport.ts";
import type { ResultOf } from "./operations.ts";

export interface SetupOptions {
  ownerUrl: string;
  stateDir: string;
  envFile: string;
  /** The host (and optional :port) serve reaches PostgreSQL at, when it differs from the owner URL's. */
  appUrlHost?: string;
  rotate?: boolean;
}

export interface SetupResult {
  env_file: string;
  state_dir: string;
  migrations_applied: string[];
  role: { name: string; created: boolean; password: "generated" | "kept" | "rotated" };
  master_key: { source: string; generated: boolean };
  server_keys_generated: string[];
  doctor: ResultOf<"doctor">;
}

const SETUP_KEYS = ["DATABASE_URL", "CAUSELOOP_DATA_DIR", "CAUSELOOP_MASTER_KEY_FILE"] as const;

/** The runtime role's URL: the owner's, with causeloop_app, its password and (maybe) another host. */
export function appDatabaseUrl(ownerUrl: string, password: string, appUrlHost?: string): string {
  const url = new URL(ownerUrl);
  url.username = "causeloop_app";
  url.password = password;
  if (appUrlHost) {
    const probe = new URL(`postgres://${appUrlHost}`);
    if (!probe.hostname || probe.pathname !== "" || probe.username)
      throw new AppError("bad_request", `--app-url-host must be a host or host:port (got '${appUrlHost}')`);
    url.hostname = probe.hostname;
    url.port = probe.port;
  }
  return url.toString();
}

/** A password kept from an earlier setup: the env file's DATABASE_URL, when it is the runtime role's. */
function keptPassword(existing: Record<string, string> | undefined): string | undefined {
  if (!existing?.DATABASE_URL) return undefined;
  try {
    const url = new URL(existing.DATABASE_URL);
    return url.username === "causeloop_app" && url.password ? decodeURIComponent(url.password) : undefined;
  } catch {
    return undefined;
  }
}

/** Files this run created in the state directory take its owner (the service user, when run as root). */
function handOver(stateDir: string, before: Set<string>): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(stateDir);
  if (uid === 0) return;
  for (const name of readdirSync(stateDir)) if (!before.has(name)) chownSync(join(stateDir, name), uid, gid);
}

export async function runSetup(options: SetupOptions, env: Record<string, string | undefined>): Promise<SetupResult> {
  parseDatabaseUrl(options.ownerUrl, "--database-owner-url");
  const existing = readEnvFile(options.envFile);
  // Everything below runs from these settings only: the caller's DATABASE_URL or data dir never leak in.
  const base: Record<string, string | undefined> = { ...env, DATABASE_URL: undefined };
  for (const key of SETUP_KEYS) base[key] = existing?.[key];
  base.DATABASE_OWNER_URL = options.ownerUrl;
  base.CAUSELOOP_DATA_DIR = options.stateDir;
  const ownerConfig: Config = loadConfig(base);

  const migrated = await runOperation(ownerConfig, "migrate");

  const kept = options.rotate ? undefined : keptPassword(existing);
  const password = kept ?? generatePassword();
  const role = await runOperation(ownerConfig, "roles.setup", { password });
  const databaseUrl = appDatabaseUrl(options.ownerUrl, password, options.appUrlHost);

  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  const before = new Set(readdirSync(options.stateDir));
  const owner = await openOwner(ownerConfig);
  let masterKey: SetupResult["master_key"];
  const generatedKeys: string[] = [];
  try {
    // The master key ring: kept where the env file (or the environment) says it is; else the state dir's file,
    // generated only when this database holds no data key yet (a new key cannot open existing ones).
    const configured = base.CAUSELOOP_MASTER_KEY_FILE ?? (base.CAUSELOOP_MASTER_KEY ? "CAUSELOOP_MASTER_KEY" : "");
    if (configured) masterKey = { source: configured, generated: false };
    else {
      const path = join(options.stateDir, MASTER_KEY_FILE);
      if (!existsSync(path)) {
        const [row] = await owner.query<{ n: number }>("select count(*)::int as n from kek_probe()");
        if ((row?.n ?? 0) > 0)
          throw new AppError(
            "config_invalid",
            `this database holds encrypted data keys but ${path} is missing: restore the master key file there (or name it with CAUSELOOP_MASTER_KEY_FILE in ${options.envFile}) and run setup again`,
          );
      }
      const generated = !existsSync(path);
      loadKeyRing({ env: {}, dataDir: options.stateDir, embedded: true });
      masterKey = { source: path, generated };
      base.CAUSELOOP_MASTER_KEY_FILE = path;
    }
    // The server keys (audit signing, access tokens, RTBF refs, export links): generated in the state dir if
    // absent, refused if the database holds what a lost one made.
    const absent = SERVER_KEY_FILES.filter((f) => !existsSync(join(options.stateDir, f)));
    await loadServerKeys(ownerConfig, owner, base);
    generatedKeys.push(...absent.filter((f) => existsSync(join(options.stateDir, f))));
  } finally {
    await owner.close();
  }
  handOver(options.stateDir, before);

  const written: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    CAUSELOOP_DATA_DIR: options.stateDir,
  };
  if (base.CAUSELOOP_MASTER_KEY_FILE) written.CAUSELOOP_MASTER_KEY_FILE = base.CAUSELOOP_MASTER_KEY_FILE;
  writeEnvFile(
    options.envFile,
    written,
    `written by causeloop setup on ${new Date().toISOString().slice(0, 10)}; the owner URL is not kept here: migrations take it on the command line`,
  );

  // Doctor with exactly what serve will read: the file just written (and nothing of the caller's own). The
  // doctor's master key and server key checks read process.env, so it is that environment while it runs.
  const runtimeEnv: Record<string, string | undefined> = { ...base, ...written, DATABASE_OWNER_URL: undefined };
  const previous = process.env;
  process.env = runtimeEnv as NodeJS.ProcessEnv;
  let doctor: ResultOf<"doctor">;
  try {
    doctor = await runOperation(loadConfig(runtimeEnv), "doctor");
  } finally {
    process.env = previous;
  }
  return {
    env_file: options.envFile,
    state_dir: options.stateDir,
    migrations_applied: migrated.applied.map((a) => a.name),
    role: {
      name: role.role,
      created: role.created,
      password: kept ? "kept" : options.rotate ? "rotated" : "generated",
    },
    master_key: masterKey,
    server_keys_generated: generatedKeys,
    doctor,
  };
}
