// Text PostgreSQL cannot store, refused at the front door: a NUL character (PostgreSQL rejects it in text and
// jsonb) or an unpaired UTF-16 surrogate (silently turned into U+FFFD on the way to UTF-8), in any string or
// key of the body, the query string or the path. Also JSON nested deeper than any request needs.
import { AppError } from "../errors.ts";

/** Deeper than any request body needs; a guard against recursion in validators and serializers. */
export const MAX_JSON_DEPTH = 32;

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/**
 * Throws a 422 naming where the first unstorable string (or key) is, or where the nesting goes too deep.
 * Iterative, so a hostile depth cannot overflow the stack; never echoes the value.
 */
export function assertStorableInput(part: string, value: unknown): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: part, depth: 0 }];
  while (stack.length) {
    const item = stack.pop() as { value: unknown; path: string; depth: number };
    if (typeof item.value === "string") {
      if (!isStorableText(item.value)) throw unstorable(item.path);
      continue;
    }
    if (item.value === null || typeof item.value !== "object") continue;
    if (item.depth >= MAX_JSON_DEPTH)
      throw new AppError("validation_failed", `${item.path}: nested more than ${MAX_JSON_DEPTH} levels deep`);
    if (Array.isArray(item.value)) {
      for (const [index, element] of item.value.entries())
        stack.push({ value: element, path: `${item.path}[${index}]`, depth: item.depth + 1 });
      continue;
    }
    for (const [key, element] of Object.entries(item.value)) {
      if (!isStorableText(key)) throw unstorable(`${item.path} (a property name)`);
      stack.push({ value: element, path: `${item.path}.${key}`, depth: item.depth + 1 });
    }
  }
}

/**
 * Whether raw JSON nests objects and arrays deeper than `max`, found by a byte scan before anything parses it:
 * a 100 kB body nested 10000 deep otherwise costs a second of CPU and hundreds of MB in the validator's error
 * report. Multi-byte UTF-8 never contains ASCII bytes, so brackets and quotes are found byte by byte.
 */
export function jsonNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}

function unstorable(path: string): AppError {
  return new AppError(
    "validation_failed",
    `${path}: contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored`,
  );
}
