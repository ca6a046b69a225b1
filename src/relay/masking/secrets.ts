// JWTs and secrets: credentials with a known shape (provider prefixes, private key blocks, passwords in
// connection strings), values assigned to secret-sounding keys, and high-entropy tokens.
//
// What is NOT a secret here, on purpose: UUIDs, hex digests (git SHAs, sha256, MongoDB ObjectIds), our own
// and Stripe-style object ids (`iss_01j…`, `cus_…`), base64 in data: URIs. They are high-entropy but are
// identifiers that people need to read in results; a hex API key is still caught by its assignment
// (`api_key=…`) or by a column name.
import type { Span } from "./types.ts";

function* matches(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) yield m;
}

const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{0,}(?![\w-])/g;

/** Three base64url parts whose header decodes to JSON with an "alg". */
export function findJwts(text: string): Span[] {
  if (!text.includes("eyJ")) return [];
  const out: Span[] = [];
  for (const m of matches(JWT, text)) {
    const header = m[0].slice(0, m[0].indexOf("."));
    try {
      const decoded: unknown = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
      if (decoded && typeof decoded === "object" && "alg" in decoded)
        out.push({ kind: "jwt", start: m.index, end: m.index + m[0].length });
    } catch {
      // not JSON: not a JWT
    }
  }
  return out;
}

const PREFIXED = new RegExp(
  [
    "-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\\s\\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
    "(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    "(?<!\\w)gh[pousr]_[A-Za-z0-9]{36,255}(?!\\w)",
    "(?<!\\w)github_pat_[A-Za-z0-9_]{50,255}(?!\\w)",
    "(?<!\\w)glpat-[A-Za-z0-9_-]{20,}(?![\\w-])",
    "(?<!\\w)(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}(?!\\w)",
    "(?<!\\w)whsec_[A-Za-z0-9+/=]{24,}(?!\\w)",
    "(?<![\\w-])xox[abposr]-[A-Za-z0-9-]{10,}(?![\\w-])",
    "https://hooks\\.slack\\.com/services/[A-Za-z0-9/]{20,}",
    "(?<![\\w-])AIza[0-9A-Za-z_-]{35}(?![\\w-])",
    "(?<![\\w-])sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}(?![\\w-])",
    "(?<![\\w.])SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}(?![\\w-])",
    "(?<!\\w)npm_[A-Za-z0-9]{36}(?!\\w)",
  ].join("|"),
  "g",
);

// The password of a URL's user info (`postgres://app:…@db`): the part between ":" and "@".
const URL_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:([^\s@/'"]+)@/gi;

// A value assigned to a secret-sounding key, in code, config, logs, query strings or JSON text.
const ASSIGNED =
  /(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|client[_-]?secret|credentials?|private[_-]?key|signing[_-]?key)["']?\s*(?:[:=]|=>)\s*["']?([^\s"',;&<>(){}[\]]{8,})/gi;
// An HTTP bearer or basic credential (`Authorization: Bearer …`).
const BEARER = /\b(?:Bearer|Basic|Token)\s+([\w.~+/-]{16,}=*)/g;
const PLACEHOLDER = /^(?:\*+|x+|null|none|true|false|undefined|redacted|changeme|\$\{?\w+\}?|<\w+>|\[\w+.*)$/i;

// `token: expired`, `password: reset_requested` and placeholders are words, not credentials; a random value
// of letters only (mixed case, many capitals, long) is still one.
function assignedSecret(value: string): boolean {
  if (PLACEHOLDER.test(value)) return false;
  if (/^[a-z]+(?:[._-][a-z]+)*$/i.test(value)) {
    const upper = value.replace(/[^A-Z]/g, "").length;
    return value.length >= 16 && !/[._-]/.test(value) && upper >= value.length / 4 && entropy(value) >= 3.5;
  }
  return classes(value) >= 2;
}

function classes(s: string): number {
  return Number(/[a-z]/.test(s)) + Number(/[A-Z]/.test(s)) + Number(/\d/.test(s)) + Number(/[^A-Za-z0-9]/.test(s));
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / s.length) * Math.log2(c / s.length);
  return h;
}

const TOKEN = /(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])/g;
const ID_PREFIX = /^[a-z]{2,8}_/;

/** Random-looking tokens: ≥ 20 chars, upper, lower and digits, entropy ≥ 3.8 bits/char. */
function highEntropy(token: string, before: string): boolean {
  if (/base64,$/.test(before) || token.length > 512) return false;
  if (ID_PREFIX.test(token)) return false;
  // A path's segments are words; a base64 key's segments (AWS: `wJalrXUtnFEMI/K7MDENG/…`) are not.
  const segments = token.split("/");
  if (
    segments.length > 1 &&
    (token.startsWith("/") || segments.every((s) => /^(?:[a-z0-9._-]*|[A-Z]?[a-z]+)$/.test(s)))
  )
    return false; // a path
  const upper = token.replace(/[^A-Z]/g, "").length;
  const lower = token.replace(/[^a-z]/g, "").length;
  const digits = token.replace(/[^0-9]/g, "").length;
  // Base64 keys are ~40% capitals and may hold a single digit (AWS's documented example); CamelCase
  // identifiers with one digit (`PaymentProcessorFactoryBean4`) have few capitals.
  const fewDigitsButRandom = digits >= 1 && token.length >= 30 && upper >= token.length / 4;
  if (upper < 2 || lower < 2 || (digits < 2 && !fewDigitsButRandom)) return false;
  return entropy(token) >= 3.8;
}

export function findSecrets(text: string): Span[] {
  const out: Span[] = [];
  for (const m of matches(PREFIXED, text)) out.push({ kind: "secret", start: m.index, end: m.index + m[0].length });
  if (text.includes("://"))
    for (const m of matches(URL_PASSWORD, text)) {
      const pw = m[1] ?? "";
      const start = m.index + m[0].length - 1 - pw.length;
      out.push({ kind: "secret", start, end: start + pw.length });
    }
  for (const m of matches(BEARER, text)) {
    const start = m.index + m[0].length - (m[1] ?? "").length;
    out.push({ kind: "secret", start, end: m.index + m[0].length });
  }
  for (const m of matches(ASSIGNED, text)) {
    const value = m[1] ?? "";
    if (!assignedSecret(value)) continue;
    const start = m.index + m[0].length - value.length;
    out.push({ kind: "secret", start, end: start + value.length });
  }
  for (const m of matches(TOKEN, text))
    if (highEntropy(m[0], text.slice(Math.max(0, m.index - 7), m.index)))
      out.push({ kind: "secret", start: m.index, end: m.index + m[0].length });
  return out;
}
