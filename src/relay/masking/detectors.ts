// Detectors for entities with a fixed shape: emails, cards, IBANs, IP addresses and national ids. Each one
// returns candidate spans; detect.ts resolves overlaps between kinds.
import {
  codiceFiscaleValid,
  cpfValid,
  dniValid,
  ibanLength,
  ibanValid,
  luhnValid,
  nirValid,
  verhoeffValid,
} from "./checksums.ts";
import type { Span } from "./types.ts";

function* matches(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) yield m;
}

// A dotted TLD is required, so `user@localhost` and `git@host` (no dot) are not emails; a local part may not
// start or end with a dot.
const EMAIL =
  /[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

export function findEmails(text: string): Span[] {
  if (!text.includes("@")) return [];
  const out: Span[] = [];
  for (const m of matches(EMAIL, text)) out.push({ kind: "email", start: m.index, end: m.index + m[0].length });
  return out;
}

// Issuer prefixes (IIN) of the brands in circulation and their lengths: a Luhn-valid number with no brand
// prefix (a 16-digit order id that happens to pass) is not a card.
function cardBrandKnown(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d[0] === "4") return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19; // Discover
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 12 && n <= 19; // Maestro
  return false;
}

// Digits in groups with one separator kind (none, space or dash) used consistently, not part of a longer
// run of digit groups (an IBAN, a phone list).
const CARD = /(?<![\w.,/-]|\d{3}[ -])\d(?:\d|[ -](?=\d)){11,22}(?![\w/]|[.,]\d|[ -]\d{3})/g;

// The tail of an IBAN printed in groups (`NL28 ZWSN 9727 6400 98`) whose checksum failed is not a card
// or a phone.
export const IBAN_BEFORE = /\b[A-Z]{2}\d{2} (?:[A-Z0-9]{4} )*$/;

export function findCards(text: string): Span[] {
  const out: Span[] = [];
  for (const m of matches(CARD, text)) {
    if (IBAN_BEFORE.test(text.slice(Math.max(0, m.index - 40), m.index))) continue;
    const raw = m[0];
    const seps = new Set(raw.replace(/\d/g, ""));
    if (seps.size > 1) continue;
    const digits = raw.replace(/\D/g, "");
    if (digits.length < 13 || digits.length > 19) continue;
    if (!luhnValid(digits) || !cardBrandKnown(digits)) continue;
    out.push({ kind: "credit_card", start: m.index, end: m.index + raw.length });
  }
  return out;
}

// Upper or lower case (`fr76 3000 …` is seen in tickets); the checksum is computed on the upper-case form.
const IBAN_START = /(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}(?=[ ]?[A-Za-z0-9])/g;

/** IBANs compact or printed in groups of four; the country's length decides where it ends. */
export function findIbans(text: string): Span[] {
  const out: Span[] = [];
  for (const m of matches(IBAN_START, text)) {
    const len = ibanLength((m[1] ?? "").toUpperCase());
    if (!len) continue;
    let compact = m[0];
    let i = m.index + 4;
    while (compact.length < len && i < text.length) {
      const ch = text[i] ?? "";
      if (ch === " " && compact.length % 4 === 0 && /[A-Za-z0-9]/.test(text[i + 1] ?? "")) i++;
      else if (/[A-Za-z0-9]/.test(ch)) {
        compact += ch;
        i++;
      } else break;
    }
    if (compact.length !== len || /[A-Za-z0-9]/.test(text[i] ?? "")) continue;
    if (ibanValid(compact.toUpperCase())) out.push({ kind: "iban", start: m.index, end: i });
  }
  return out;
}

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, "g");
// Four dotted numbers after "v", "version", "build" or "release" are a version, not an address.
const VERSION_BEFORE = /(?:\bv|\b(?:version|ver|build|release|rev)[\s:=.]*)$/i;

export function findIpv4(text: string): Span[] {
  const out: Span[] = [];
  for (const m of matches(IPV4, text)) {
    if (VERSION_BEFORE.test(text.slice(Math.max(0, m.index - 12), m.index))) continue;
    out.push({ kind: "ipv4", start: m.index, end: m.index + m[0].length });
  }
  return out;
}

const IPV6 =
  /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.]+)?(?![\w:.])/g;

/** Full, compressed and IPv4-suffixed forms; MAC addresses and times fail the group count. */
export function ipv6Valid(candidate: string): boolean {
  let addr = candidate.replace(/%[\w.]+$/, "");
  let groups = 8;
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  if (v4) {
    if (!v4[1]?.split(".").every((o) => Number(o) <= 255)) return false;
    addr = `${addr.slice(0, v4.index)}0:0`;
    groups = 8;
  }
  const halves = addr.split("::");
  if (halves.length > 2) return false;
  const parts = halves.map((h) => (h === "" ? [] : h.split(":")));
  if (!parts.every((p) => p.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g)))) return false;
  const count = parts.reduce((n, p) => n + p.length, 0);
  if (halves.length === 1) return count === groups;
  // A compressed form needs two real groups: `a::b` in prose and `::1` carry no personal address.
  return count < groups && count >= 2;
}

export function findIpv6(text: string): Span[] {
  if (!text.includes(":")) return [];
  const out: Span[] = [];
  for (const m of matches(IPV6, text)) {
    let raw = m[0];
    if (raw.endsWith(":") && !raw.endsWith("::")) raw = raw.slice(0, -1);
    if (ipv6Valid(raw)) out.push({ kind: "ipv6", start: m.index, end: m.index + raw.length });
  }
  return out;
}

// National ids, only where a checksum or an unmistakable printed form exists (see docs/BENCHMARKS.md):
// US SSN (dashed, valid area/group/serial), French NIR (mod 97 key), Spanish DNI/NIE (mod 23 letter),
// Italian codice fiscale (check letter), Brazilian CPF (dotted form, two check digits), Aadhaar (4-4-4 form,
// Verhoeff). Bare digit runs without a checksum or a form (a Dutch BSN, an undashed SSN) are left to column
// names: their false positives on order numbers would be too many.
const NATIONAL: Array<[RegExp, (m: string) => boolean]> = [
  [/(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g, () => true],
  [/(?<![\w])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}(?!\w)/g, (m) => nirValid(m.replace(/ /g, ""))],
  [/(?<![\w-])[XYZ\d]\d{7}-?[A-Z](?!\w)/g, (m) => dniValid(m.replace("-", ""))],
  [/(?<!\w)[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z](?!\w)/g, codiceFiscaleValid],
  [/(?<![\w.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])/g, (m) => cpfValid(m.replace(/\D/g, ""))],
  [/(?<!\w)(?<!\d )[2-9]\d{3} \d{4} \d{4}(?!\w| \d)/g, (m) => verhoeffValid(m.replace(/ /g, ""))],
];

export function findNationalIds(text: string): Span[] {
  const out: Span[] = [];
  for (const [re, valid] of NATIONAL)
    for (const m of matches(re, text))
      if (valid(m[0])) out.push({ kind: "national_id", start: m.index, end: m.index + m[0].length });
  return out;
}
