// Phone numbers through libphonenumber-js (full metadata, so validity means a real number plan range).
// The library alone finds a valid number in any 10-digit run, so a bare run of digits with no "+", no
// grouping and no phone word before it (an order number, a Unix time) is not taken as a phone.
import { findNumbers } from "libphonenumber-js/max";
import type { CountryCode } from "libphonenumber-js/max";
import type { Span } from "./types.ts";

// "#" and "number" are not phone words: `order #4155552671` is an order.
const PHONE_WORD = /(?:phone|tel|mobile|mob|cell|call|fax|sms|whatsapp|contact)\W{0,3}$/i;
// Dates, times and versions around the number mean it is one of those.
// An id glued to letters (`ORD-2024-000123`, `INV_5551234567`) is an id.
const NOT_A_PHONE_BEFORE = /(?:[A-Za-z0-9][-/._]|\d:|[A-Za-z0-9_]|\bv|version\s?)$/;
const NOT_A_PHONE_AFTER = /^(?:[-/:.]\d|\s?(?:ms|s|sec|kb|mb|gb|bytes|USD|EUR)\b|\s?[€$%])/i;

export function findPhones(text: string, region: CountryCode): Span[] {
  // Cheap gate: fewer than 7 digits cannot hold a phone number.
  let digits = 0;
  for (let i = 0; i < text.length && digits < 7; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  if (digits < 7) return [];
  const out: Span[] = [];
  for (const found of findNumbers(text, { defaultCountry: region, v2: true })) {
    if (!found.number.isValid()) continue;
    const raw = text.slice(found.startsAt, found.endsAt);
    const before = text.slice(Math.max(0, found.startsAt - 12), found.startsAt);
    const after = text.slice(found.endsAt, found.endsAt + 6);
    if (NOT_A_PHONE_BEFORE.test(before) || NOT_A_PHONE_AFTER.test(after)) continue;
    const grouped = /^\+|^00|[\s().-]/.test(raw);
    if (!grouped && !PHONE_WORD.test(before)) continue;
    out.push({ kind: "phone", start: found.startsAt, end: found.endsAt });
  }
  return out;
}
