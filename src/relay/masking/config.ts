// The relay's masking configuration, validated once at start with a message that names the field.
import { ENTITY_KINDS } from "./types.ts";
import type { ColumnAction, DetectAction, EntityKind, MaskingConfig } from "./types.ts";

const COLUMN_ACTIONS: readonly ColumnAction[] = ["redact", "null", "partial", "pseudonymize"];
const DETECT_ACTIONS: readonly DetectAction[] = ["redact", "partial", "pseudonymize"];
export const DEFAULT_HMAC_KEY_ENV = "CAUSELOOP_RELAY_HMAC_KEY";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], at: string): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${at}: must be one of ${allowed.join(", ")}`);
}

function noUnknownKeys(obj: Record<string, unknown>, known: string[], at: string): void {
  for (const key of Object.keys(obj))
    if (!known.includes(key)) throw new Error(`${at}.${key}: unknown setting (known: ${known.join(", ")})`);
}

export function validateMaskingConfig(raw: unknown, path = "masking"): MaskingConfig {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new Error(`${path}: must be an object`);
  noUnknownKeys(raw, ["columns", "name_patterns", "detect", "hmac_key_env"], path);
  const config: MaskingConfig = {};
  if (raw.columns !== undefined) {
    if (!Array.isArray(raw.columns)) throw new Error(`${path}.columns: must be a list`);
    config.columns = raw.columns.map((rule: unknown, i) => {
      const at = `${path}.columns[${i}]`;
      if (!isObject(rule)) throw new Error(`${at}: must be an object with match and action`);
      noUnknownKeys(rule, ["match", "action"], at);
      if (typeof rule.match !== "string" || rule.match.trim() === "")
        throw new Error(`${at}.match: must be a column name, table.column or a glob`);
      return { match: rule.match.trim(), action: oneOf(rule.action, COLUMN_ACTIONS, `${at}.action`) };
    });
  }
  if (raw.name_patterns !== undefined) {
    if (typeof raw.name_patterns !== "boolean") throw new Error(`${path}.name_patterns: must be true or false`);
    config.name_patterns = raw.name_patterns;
  }
  if (raw.detect !== undefined) {
    const at = `${path}.detect`;
    if (!isObject(raw.detect)) throw new Error(`${at}: must be an object`);
    noUnknownKeys(raw.detect, ["kinds", "default_region", "action"], at);
    const detect: NonNullable<MaskingConfig["detect"]> = {};
    if (raw.detect.kinds !== undefined) {
      if (!Array.isArray(raw.detect.kinds)) throw new Error(`${at}.kinds: must be a list`);
      detect.kinds = raw.detect.kinds.map((k: unknown, i): EntityKind => oneOf(k, ENTITY_KINDS, `${at}.kinds[${i}]`));
    }
    if (raw.detect.default_region !== undefined) {
      if (typeof raw.detect.default_region !== "string" || !/^[A-Za-z]{2}$/.test(raw.detect.default_region))
        throw new Error(`${at}.default_region: must be a two-letter country code such as US or FR`);
      detect.default_region = raw.detect.default_region.toUpperCase();
    }
    if (raw.detect.action !== undefined) detect.action = oneOf(raw.detect.action, DETECT_ACTIONS, `${at}.action`);
    config.detect = detect;
  }
  if (raw.hmac_key_env !== undefined) {
    if (typeof raw.hmac_key_env !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.hmac_key_env))
      throw new Error(`${path}.hmac_key_env: must be an environment variable name`);
    config.hmac_key_env = raw.hmac_key_env;
  }
  return config;
}

/**
 * The pseudonymization key from the environment variable the configuration names: base64 or hex, at least
 * 32 bytes. The key stays in the relay, so the server cannot reverse a pseudonym by hashing guesses.
 */
export function hmacKeyFromEnv(config: MaskingConfig, env: Record<string, string | undefined>): Uint8Array {
  const name = config.hmac_key_env ?? DEFAULT_HMAC_KEY_ENV;
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name}: not set (the relay's pseudonymization key, 32 random bytes in base64)`);
  const bytes =
    /^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0 ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  if (bytes.length < 32) throw new Error(`${name}: must hold at least 32 bytes (base64 or hex)`);
  return new Uint8Array(bytes);
}
