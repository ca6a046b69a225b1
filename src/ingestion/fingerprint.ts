// Grouping events that carry no vendor fingerprint. The clustering engine (src/intelligence/) replaces this
// function when it lands: everything that groups an event without a fingerprint calls fallbackFingerprint().
import { sha256Hex } from "../identity/tokens.ts";

/** Variable parts of a title (ids, numbers, addresses) masked, so repeats of one problem group together. */
export function normalizedTitle(title: string): string {
  return title
    .toLowerCase()
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "<uuid>")
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, "<ip>")
    .replace(/\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b/g, "<ip>")
    .replace(/\b0x[0-9a-f]+\b/g, "<hex>")
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/g, "<hex>")
    .replace(/\d+(?:\.\d+)?/g, "<n>")
    .replace(/\s+/g, " ")
    .trim();
}

/** The fingerprint of an event without one: its source and its title with the variable parts masked. */
export function fallbackFingerprint(source: string, title: string): string {
  return `title:${sha256Hex(`${source}\n${normalizedTitle(title)}`).slice(0, 32)}`;
}
