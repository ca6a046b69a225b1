// Phone numbers through libphonenumber-js (full metadata, so validity means a real number plan range).
// The library alone finds a valid number in any 10-digit run, so a bare run of digits with no "+", no
// grouping and no phone word before it (an order number, a Unix time) is not taken as a phone.
import { findNumbers } from "libphonenumber-js/max";
import type { CountryCode } from "libphonenumber-js/max";
import { IBAN_BEFORE } from "./detectors.ts";
import type { Span } from "./types.ts";

// "#" and "number" are not phone words: `order #4155552671` is an order.
const PHONE_WORD = /(?:phone|tel|mobile|mob|cell|call|fax|sms|whatsapp|contact)\W{0,3}$/i;
// Dates, times and versions around the number mean it is one of those.
// An id glued to letters (`ORD-2024-000123`, `INV_5551234567`) is an id.
const NOT_A_PHONE_BEFORE = /(?:[A-Za-z0-9][-/._]|\d:|[A-Za-z0-9_]|\bv|version\s?)$/;
const NOT_A_PHONE_AFTER = /^(?:\w|[-/:.]\d|\s?(?:ms|s|sec|kb|mb|gb|bytes|USD|EUR)\b|\s?[€$%])/i;

// Runs of digits and phone punctuation long enough to hold a number. The library's own scan of a whole text
// is ~30x slower than this regex, so it only sees these runs.
const CANDIDATE = /\+?\(?\d[\d ().-]{5,24}\d/g;

// Cheap refusals before the library parses a run: too few or too many digits (an IBAN, a card), an ISO date,
// dotted quads (addresses, versions), an id glued to letters, a bare run of digits with no phone word.
function worthParsing(run: string, before: string): boolean {
  const digits = run.replace(/\D/g, "").length;
  if (digits < 7 || (digits > 15 && !run.includes("+"))) return false;
  if (/^\d{4}-\d{2}-\d{2}$/.test(run) || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(run)) return false;
  if (/^\d{3}\.\d{3}\.\d{3}-\d{2}$/.test(run)) return false; // the printed form of a Brazilian CPF
  if (/^\d+[.,]\d+$/.test(run)) return false; // a decimal number
  if (NOT_A_PHONE_BEFORE.test(before) || IBAN_BEFORE.test(before)) return false;
  return !/^\d+$/.test(run) || PHONE_WORD.test(before);
}

export function findPhones(text: string, region: CountryCode): Span[] {
  const out: Span[] = [];
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    if (!worthParsing(m[0], text.slice(Math.max(0, m.index - 12), m.index))) continue;
    for (const found of findNumbers(m[0], { defaultCountry: region, v2: true })) {
      if (!found.number.isValid()) continue;
      const start = m.index + found.startsAt;
      const end = m.index + found.endsAt;
      const raw = text.slice(start, end);
      const before = text.slice(Math.max(0, start - 12), start);
      const after = text.slice(end, end + 6);
      if (NOT_A_PHONE_BEFORE.test(before) || NOT_A_PHONE_AFTER.test(after)) continue;
      const grouped = /^\+|^00|[\s().-]/.test(raw);
      if (!grouped && !PHONE_WORD.test(before)) continue;
      out.push({ kind: "phone", start, end });
    }
  }
  return out;
}
