// Turns a message into tokens with obvious variables masked as `<*>`. Whole-message patterns first (timestamps,
// URLs, e-mail addresses, paths, sizes and durations with their unit), then inside each token every
// alphanumeric run holding a digit (numbers, ids, IPs, hex, versions). Words stay words: whether a word
// position is variable is decided later, from how many different words a cluster sees there.
export const WILDCARD = "<*>";

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*";
const MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*";
const CLOCK = "\\d{1,2}:\\d{2}(?::\\d{2}(?:[.,]\\d+)?)?";
const ZONE = "(?:\\s*(?:Z|[+-]\\d{2}:?\\d{2}|[A-Z]{2,4}T|UTC|GMT))?";
const QUANTITY =
  "(?<![\\w.])(?:[<>]=?|~)?[-+]?\\d+(?:\\.\\d+)?\\s?(?:[KMGTP]i?B|bytes|B|ms|us|µs|ns|sec|secs|seconds|s|min|mins|minutes|h|hours)\\b";
const MESSAGE_PATTERNS: RegExp[] = [
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi,
  /(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g,
  /(?<![\w.:/-])(?:~|\.{1,2})?(?:\/+[\w.\-@%+~]+)+\/?/g,
  // Fri Jun 17 20:32:27 2005, Jun 17 20:32:27, Sat Sep 10 12:00:00 PDT 2005
  new RegExp(`\\b(?:${DAY},?\\s+)?${MONTH}\\s+\\d{1,2},?\\s+(?:\\d{4}\\s+)?${CLOCK}${ZONE}(?:\\s+\\d{4})?\\b`, "g"),
  // 2015-10-18 18:01:47,978 / 2015-10-18T18:01:47.978Z / 17/06/09 20:10:40
  new RegExp(`\\b\\d{2,4}[-/.]\\d{1,2}[-/.]\\d{1,4}(?:[T\\s-]${CLOCK})?${ZONE}`, "g"),
  // 3000 ms, 12s, 1.5 GB, <1 sec, ~20 min, and a size's other spelling: 1190 bytes (1.16 KB)
  new RegExp(`${QUANTITY}(?:\\s\\(${QUANTITY}\\))?`, "g"),
];

const DIGIT = /\d/;
const EDGES = /^([^A-Za-z0-9<]*)(.*?)([^A-Za-z0-9>]*)$/s;
// A word naming the value that follows it: `uid=0`, `chdir(/home)`, `depth.......4`, `port:80`.
const KEYED = /^([^A-Za-z0-9]*[A-Za-z][A-Za-z_-]*)(=|:|\(|\.{2,})(.*)$/s;

function maskWhole(token: string): string {
  const [, lead = "", , trail = ""] = EDGES.exec(token) ?? [];
  return `${lead.replace(/[-+]$/, "")}${WILDCARD}${trail}`;
}

/** One token with its variable part masked: a token holding a digit is a variable (`blk_-42`, `ssh2`,
 * `10.0.0.1:80`), except the word naming it (`uid=0` → `uid=<*>`). */
export function maskToken(token: string): string {
  if (!DIGIT.test(token) || token === WILDCARD) return token;
  const keyed = KEYED.exec(token);
  if (keyed && DIGIT.test(keyed[3] as string)) return `${keyed[1]}${keyed[2]}${maskWhole(keyed[3] as string)}`;
  return maskWhole(token);
}

export function maskMessage(message: string): string {
  let masked = message;
  for (const pattern of MESSAGE_PATTERNS) masked = masked.replace(pattern, WILDCARD);
  return masked.replace(/(?:<\*>){2,}/g, WILDCARD);
}

/** A message's problem shows in its beginning; the rest (a dump, a long trace) only costs time. */
const MAX_CHARS = 4096;

/** The message's tokens, variables masked, runs of masked tokens collapsed into one. */
export function maskedTokens(message: string): string[] {
  const trimmed = maskMessage(message.length > MAX_CHARS ? message.slice(0, MAX_CHARS) : message).trim();
  if (trimmed === "") return [];
  const tokens: string[] = [];
  for (const token of trimmed.split(/\s+/)) {
    const masked = maskToken(token);
    if (masked === WILDCARD && tokens[tokens.length - 1] === WILDCARD) continue;
    tokens.push(masked);
  }
  return tokens;
}
