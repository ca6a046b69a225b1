// Runs the detectors of the enabled kinds and keeps, where spans overlap, the most specific kind: a JWT or
// a private key block is also a high-entropy token, a card number also parses as a phone, a password in a
// URL also looks like an email's local part.
import type { CountryCode } from "libphonenumber-js/max";
import { findCards, findEmails, findIbans, findIpv4, findIpv6, findNationalIds } from "./detectors.ts";
import { findPhones } from "./phone.ts";
import { findJwts, findSecrets } from "./secrets.ts";
import type { EntityKind, Span } from "./types.ts";

const ORDER: EntityKind[] = ["jwt", "secret", "iban", "credit_card", "national_id", "email", "ipv6", "ipv4", "phone"];

export function detectSpans(text: string, kinds: ReadonlySet<EntityKind>, region: CountryCode): Span[] {
  const found: Span[] = [];
  const run = (kind: EntityKind, finder: () => Span[]): void => {
    if (kinds.has(kind)) found.push(...finder());
  };
  run("jwt", () => findJwts(text));
  run("secret", () => findSecrets(text));
  run("iban", () => findIbans(text));
  run("credit_card", () => findCards(text));
  run("national_id", () => findNationalIds(text));
  run("email", () => findEmails(text));
  run("ipv6", () => findIpv6(text));
  run("ipv4", () => findIpv4(text));
  run("phone", () => findPhones(text, region));
  // Specific kinds first; within a kind the longer span wins (a key block over a token inside it).
  found.sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || b.end - b.start - (a.end - a.start));
  const kept: Span[] = [];
  for (const span of found) if (!kept.some((k) => span.start < k.end && k.start < span.end)) kept.push(span);
  return kept.sort((a, b) => a.start - b.start);
}
