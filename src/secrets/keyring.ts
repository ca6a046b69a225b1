// The master key (KEK) side of envelope encryption. A key ring holds versions so an old KEK can still unwrap
// during rotation; the first entry is current. KekProvider is the seam where a cloud KMS can plug in.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";

export interface KekProvider {
  readonly currentVersion: number;
  readonly versions: number[];
  wrap(dek: Uint8Array<ArrayBuffer>, aad: string): Promise<string>;
  unwrap(wrapped: string, kekVersion: number, aad: string): Promise<Uint8Array<ArrayBuffer>>;
}

const encoder = new TextEncoder();

export function b64url(bytes: Uint8Array<ArrayBuffer>): string {
  return Buffer.from(bytes).toString("base64url");
}

export function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(text, "base64url"));
}

/** AES-256-GCM with a random 96-bit nonce: nonce || ciphertext || tag. */
export async function gcmSeal(
  key: CryptoKey,
  plaintext: Uint8Array<ArrayBuffer>,
  aad: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: encoder.encode(aad) }, key, plaintext),
  );
  const out = new Uint8Array(12 + sealed.length);
  out.set(nonce);
  out.set(sealed, 12);
  return out;
}

export async function gcmOpen(
  key: CryptoKey,
  data: Uint8Array<ArrayBuffer>,
  aad: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: data.slice(0, 12), additionalData: encoder.encode(aad) },
      key,
      data.slice(12),
    ),
  );
}

export function importAesKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

interface RingEntry {
  version: number;
  raw: Uint8Array<ArrayBuffer>;
}

export function parseRing(text: string): RingEntry[] {
  const parts = text
    .trim()
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new AppError("config_invalid", "the master key is empty");
  const entries = parts.map((part, index) => {
    const match = /^v(\d+):(.+)$/.exec(part);
    if (!match && parts.length > 1)
      throw new AppError("config_invalid", `master key entry ${index + 1} must look like v<N>:<base64>`);
    const version = match ? Number(match[1]) : 1;
    const raw = new Uint8Array(Buffer.from(match ? (match[2] as string) : part, "base64"));
    if (!Number.isInteger(version) || version < 1)
      throw new AppError("config_invalid", `master key entry ${index + 1} has an invalid version`);
    if (raw.length !== 32)
      throw new AppError(
        "config_invalid",
        `master key v${version} must be 32 bytes of base64 (got ${raw.length} bytes)`,
      );
    return { version, raw };
  });
  if (new Set(entries.map((e) => e.version)).size !== entries.length)
    throw new AppError("config_invalid", "master key versions must be unique");
  return entries;
}

export function ringToText(entries: RingEntry[]): string {
  return entries.map((e) => `v${e.version}:${Buffer.from(e.raw).toString("base64")}`).join(",");
}

/** A new ring whose current version is a freshly generated key, followed by the old entries. */
export function addKeyVersion(ringText: string): string {
  const entries = parseRing(ringText);
  const version = Math.max(...entries.map((e) => e.version)) + 1;
  return ringToText([{ version, raw: crypto.getRandomValues(new Uint8Array(32)) }, ...entries]);
}

export class LocalKeyRing implements KekProvider {
  currentVersion = 0;
  versions: number[] = [];
  private keys = new Map<number, Promise<CryptoKey>>();

  constructor(
    ringText: string,
    readonly file?: string,
  ) {
    this.reload(ringText);
  }

  /** Replaces the ring in place (after a rotation), so every holder of this object sees the new keys. */
  reload(ringText: string): void {
    const entries = parseRing(ringText);
    this.currentVersion = (entries[0] as RingEntry).version;
    this.versions = entries.map((e) => e.version);
    this.keys = new Map(entries.map((e) => [e.version, importAesKey(e.raw)]));
  }

  async wrap(dek: Uint8Array<ArrayBuffer>, aad: string): Promise<string> {
    return b64url(await gcmSeal(await (this.keys.get(this.currentVersion) as Promise<CryptoKey>), dek, aad));
  }

  async unwrap(wrapped: string, kekVersion: number, aad: string): Promise<Uint8Array<ArrayBuffer>> {
    const key = this.keys.get(kekVersion);
    if (!key)
      throw new AppError(
        "config_invalid",
        `master key version ${kekVersion} is not in the key ring (have ${this.versions.map((v) => `v${v}`).join(", ")})`,
      );
    try {
      return await gcmOpen(await key, fromB64url(wrapped), aad);
    } catch {
      throw new AppError(
        "config_invalid",
        `the master key v${kekVersion} does not match this database (a data key failed to unwrap)`,
      );
    }
  }
}

export const MASTER_KEY_FILE = "master.key";

/**
 * The key ring from CAUSELOOP_MASTER_KEY, else CAUSELOOP_MASTER_KEY_FILE, else (embedded mode) the data dir's
 * master.key, generated with mode 0600 when absent. PostgreSQL mode requires one of the two variables.
 */
export function loadKeyRing(options: {
  env: Record<string, string | undefined>;
  dataDir?: string;
  embedded: boolean;
  /** Why a missing master.key must not be generated (only an existing ring will do); generated when absent. */
  mustExist?: string;
}): LocalKeyRing {
  const { env } = options;
  if (env.CAUSELOOP_MASTER_KEY) return new LocalKeyRing(env.CAUSELOOP_MASTER_KEY);
  if (env.CAUSELOOP_MASTER_KEY_FILE) {
    let text: string;
    try {
      text = readFileSync(env.CAUSELOOP_MASTER_KEY_FILE, "utf8");
    } catch {
      throw new AppError("config_invalid", `CAUSELOOP_MASTER_KEY_FILE ${env.CAUSELOOP_MASTER_KEY_FILE} cannot be read`);
    }
    return new LocalKeyRing(text, env.CAUSELOOP_MASTER_KEY_FILE);
  }
  if (!options.embedded || !options.dataDir) {
    throw new AppError(
      "config_invalid",
      "CAUSELOOP_MASTER_KEY or CAUSELOOP_MASTER_KEY_FILE is required with DATABASE_URL (32 random bytes, base64: openssl rand -base64 32)",
    );
  }
  const path = join(options.dataDir, MASTER_KEY_FILE);
  if (!existsSync(path) && options.mustExist)
    throw new AppError(
      "config_invalid",
      `no master key: ${path} does not exist and neither CAUSELOOP_MASTER_KEY nor CAUSELOOP_MASTER_KEY_FILE is set (${options.mustExist})`,
    );
  if (!existsSync(path)) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(path, `${ringToText([{ version: 1, raw: crypto.getRandomValues(new Uint8Array(32)) }])}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    chmodSync(path, 0o600);
  }
  return new LocalKeyRing(readFileSync(path, "utf8"), path);
}
