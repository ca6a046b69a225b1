// Template tokens: a word, `<*>` (any one token) or a word with a variable part (`rhost=<*>`, `(<*>)`), whose
// `<*>` stands for any text, empty included.
import { WILDCARD } from "./mask.ts";

const patterns = new Map<string, RegExp>();

function patternOf(token: string): RegExp {
  let pattern = patterns.get(token);
  if (!pattern) {
    const source = token
      .split(WILDCARD)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    pattern = new RegExp(`^${source}$`, "s");
    if (patterns.size > 10_000) patterns.clear();
    patterns.set(token, pattern);
  }
  return pattern;
}

/** Whether `token` is an instance of the template token `template`. */
export function fits(template: string, token: string): boolean {
  if (template === token || template === WILDCARD) return true;
  if (!template.includes(WILDCARD)) return false;
  return patternOf(template).test(token);
}

/** Whether every token of `tokens` fits the template at its position. */
export function fitsAll(template: readonly string[], tokens: readonly string[]): boolean {
  if (template.length !== tokens.length) return false;
  for (let i = 0; i < tokens.length; i++) if (!fits(template[i] as string, tokens[i] as string)) return false;
  return true;
}

/** How many positions the template pins to a word: more means more specific. */
export function specificity(template: readonly string[]): number {
  let n = 0;
  for (const token of template) if (token !== WILDCARD) n += token.includes(WILDCARD) ? 0.5 : 1;
  return n;
}

const BOUNDARY = /[^A-Za-z0-9]/;

/** The most specific token that all `values` fit: their common punctuated prefix and suffix around `<*>`. */
export function generalize(values: readonly string[]): string {
  const first = values[0] ?? WILDCARD;
  if (values.every((value) => value === first)) return first;
  const holder = values.find((value) => value.includes(WILDCARD) && values.every((other) => fits(value, other)));
  if (holder) return holder;
  let prefix = first.split(WILDCARD)[0] as string;
  let suffix = first.split(WILDCARD).at(-1) as string;
  for (const value of values) {
    while (!value.startsWith(prefix)) prefix = prefix.slice(0, -1);
    while (!value.endsWith(suffix)) suffix = suffix.slice(1);
  }
  // Keep only what ends at punctuation (`user=`, `(`), never half a word.
  while (prefix !== "" && !BOUNDARY.test(prefix.at(-1) as string)) prefix = prefix.slice(0, -1);
  while (suffix !== "" && !BOUNDARY.test(suffix[0] as string)) suffix = suffix.slice(1);
  const shortest = Math.min(...values.map((value) => value.length));
  if (prefix.length + suffix.length > shortest) suffix = "";
  return `${prefix}${WILDCARD}${suffix}`;
}

/** Whether a stored event's message is caught by a correction's message or template (`<*>` marks variables):
 * what the API re-points when an engineer splits or pins. */
export function matchesCorrection(messageOrTemplate: string, message: string, masked: readonly string[]): boolean {
  if (!messageOrTemplate.includes(WILDCARD)) return messageOrTemplate === message;
  return fitsMessage(messageOrTemplate.trim().split(/\s+/), message, masked);
}

/** A template written by an engineer names raw words (`exit code 137`), one the engine made names masked
 * tokens (a timestamp is one `<*>`): either reading of the message may fit. */
export function fitsMessage(template: readonly string[], message: string, masked: readonly string[]): boolean {
  return fitsAll(template, masked) || fitsAll(template, message.trim().split(/\s+/));
}
