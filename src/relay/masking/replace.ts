// The replacement tokens. None of them contains the original value: a redaction names the kind, a partial
// keeps at most the last four characters of a long value, a pseudonym is a keyed hash the server cannot invert.
import { createHmac } from "node:crypto";
import type { ColumnAction } from "./types.ts";

export type Pseudonymizer = (kind: string, value: string) => string;

/** `pse_` + the first 16 hex of HMAC-SHA256(key, "kind|value"): equal values stay joinable across results. */
export function pseudonymizer(key: Uint8Array): Pseudonymizer {
  return (kind, value) => {
    // Emails differ only by case in practice; one person should get one pseudonym.
    const canonical = kind === "email" ? value.toLowerCase() : value;
    return `pse_${createHmac("sha256", key).update(`${kind}|${canonical}`).digest("hex").slice(0, 16)}`;
  };
}

/**
 * The last four letters or digits (separators skipped, so `+33 6 12 34 56 78` keeps `5678`), and only when
 * the value holds at least 8 of them: four of a short value would give most of it away.
 */
export function partial(value: string): string {
  const alnum = value.replace(/[^\p{L}\p{N}]/gu, "");
  return alnum.length >= 8 ? `••••${alnum.slice(-4)}` : "••••";
}

export function redacted(kind: string): string {
  return `[REDACTED:${kind}]`;
}

/** A whole cell or JSON value under a column rule; objects and arrays become one token. */
export function replaceWhole(value: unknown, kind: string, action: ColumnAction, pseudo: Pseudonymizer): unknown {
  if (action === "null") return null;
  const scalar = typeof value === "string" || typeof value === "number" || typeof value === "bigint";
  if (action === "partial" && scalar) return partial(String(value));
  if (action === "pseudonymize") return pseudo(kind, scalar ? String(value) : (JSON.stringify(value) ?? ""));
  return redacted(kind);
}
