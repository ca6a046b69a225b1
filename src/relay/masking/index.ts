// The relay's masking: whole cells by column or key name, entities inside strings everywhere else, walking
// nested documents (MongoDB, jsonb, JSON text). Rows come back new; the counts say what was masked, by kind
// and by output column, and never carry a value.
import { isSupportedCountry } from "libphonenumber-js/max";
import type { CountryCode } from "libphonenumber-js/max";
import type { MaskedCounts } from "../types.ts";
import { detectSpans } from "./detect.ts";
import { partial, pseudonymizer, redacted, replaceWhole } from "./replace.ts";
import { builtInRule, compileColumnRules } from "./rules.ts";
import type { NameRule } from "./rules.ts";
import { ENTITY_KINDS } from "./types.ts";
import type { EntityKind, Masker, MaskingConfig, MaskRowsOptions, Span } from "./types.ts";

export { DEFAULT_HMAC_KEY_ENV, hmacKeyFromEnv, validateMaskingConfig } from "./config.ts";
export type {
  ColumnAction,
  ColumnRule,
  DetectAction,
  EntityKind,
  Masker,
  MaskingConfig,
  MaskRowsOptions,
  Span,
} from "./types.ts";
export { ENTITY_KINDS } from "./types.ts";

// JSON text larger than this is scanned as text instead of parsed and walked.
const MAX_JSON_TEXT = 1_000_000;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function createMasker(config: MaskingConfig, hmacKey: Uint8Array): Masker {
  if (hmacKey.length < 16) throw new Error("masking: the pseudonymization key must hold at least 16 bytes");
  const region = config.detect?.default_region ?? "US";
  if (!isSupportedCountry(region)) throw new Error(`masking.detect.default_region: ${region} is not a known region`);
  const kinds = new Set<EntityKind>(config.detect?.kinds ?? ENTITY_KINDS);
  const detectAction = config.detect?.action ?? "redact";
  const explicit = compileColumnRules(config.columns ?? []);
  const namePatterns = config.name_patterns !== false;
  const pseudo = pseudonymizer(hmacKey);

  const detect = (text: string): Span[] => detectSpans(text, kinds, region as CountryCode);

  function maskRows(columns: string[], rows: unknown[][], opts: MaskRowsOptions = {}) {
    const masked: MaskedCounts = { by_kind: {}, by_column: {} };
    const forced = new Set((opts.forcedMask ?? []).map((c) => c.toLowerCase()));
    let column = "";
    let total = 0;
    const count = (kind: string): void => {
      total++;
      masked.by_kind[kind] = (masked.by_kind[kind] ?? 0) + 1;
      masked.by_column[column] = (masked.by_column[column] ?? 0) + 1;
    };

    // The rule that masks a value whole, by its name: explicit rules first, then the built-in patterns.
    const ruleFor = (name: string, qualified: string | undefined, value: unknown): NameRule | undefined => {
      if (value === null || value === undefined) return undefined; // nothing to hide, nothing to count
      const action = explicit(name, qualified);
      if (action) return { kind: "column", action };
      if (!namePatterns) return undefined;
      const rule = builtInRule(name);
      if (!rule) return undefined;
      if (rule.stringsOnly && typeof value !== "string") return undefined;
      return rule;
    };

    const maskText = (text: string): string => {
      const spans = detect(text);
      if (spans.length === 0) return text;
      let out = "";
      let at = 0;
      for (const span of spans) {
        const value = text.slice(span.start, span.end);
        out += text.slice(at, span.start);
        out +=
          detectAction === "pseudonymize"
            ? pseudo(span.kind, value)
            : detectAction === "partial"
              ? partial(value)
              : redacted(span.kind);
        at = span.end;
        count(span.kind);
      }
      return out + text.slice(at);
    };

    const maskString = (text: string, path: string): string => {
      const trimmed = text.trimStart();
      if ((trimmed.startsWith("{") || trimmed.startsWith("[")) && text.length <= MAX_JSON_TEXT) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return maskText(text);
        }
        const before = total;
        const walked = maskValue(parsed, path);
        // Unchanged JSON text keeps its own formatting.
        return total === before ? text : JSON.stringify(walked);
      }
      return maskText(text);
    };

    const maskValue = (value: unknown, path: string): unknown => {
      if (typeof value === "string") return maskString(value, path);
      if (typeof value === "number" || typeof value === "bigint") {
        // A card number stored as a number or bigint is still a card number.
        const text = String(value);
        if (text.length < 12) return value;
        const out = maskText(text);
        return out === text ? value : out;
      }
      if (Array.isArray(value)) return value.map((v) => maskValue(v, path));
      if (!isPlainObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        const keyPath = `${path}.${key}`;
        const rule = ruleFor(key, keyPath, v);
        if (rule) {
          out[key] = replaceWhole(v, rule.kind === "ip" ? ipKind(v) : rule.kind, rule.action, pseudo);
          count(rule.kind === "ip" ? ipKind(v) : rule.kind);
        } else out[key] = maskValue(v, keyPath);
      }
      return out;
    };

    const out = rows.map((row) =>
      row.map((cell, i) => {
        column = columns[i] ?? String(i);
        if (cell === null || cell === undefined) return cell;
        if (forced.has(column.toLowerCase())) {
          count("policy");
          return redacted("policy");
        }
        const rule = ruleFor(column, opts.table ? `${opts.table}.${column}` : column, cell);
        if (!rule) return maskValue(cell, column);
        const kind = rule.kind === "ip" ? ipKind(cell) : rule.kind;
        count(kind);
        return replaceWhole(cell, kind, rule.action, pseudo);
      }),
    );
    return { rows: out, masked };
  }

  return { maskRows, detect };
}

function ipKind(value: unknown): string {
  return typeof value === "string" && value.includes(":") ? "ipv6" : "ipv4";
}
