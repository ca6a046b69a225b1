// Reading untrusted vendor JSON without trusting its shape: every accessor checks the type it expects and a
// missing or mistyped required field is a 422 naming it (never a TypeError, never a 5xx). Text is cleaned of
// what PostgreSQL cannot store (NUL, lone surrogates) and cut to the column's length.
import { AppError } from "../../errors.ts";
import type { Severity } from "../event.ts";

export type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Storable text: no NUL, no lone surrogate, at most `max` characters. */
export function clean(text: string, max: number): string {
  return text.replaceAll("\u0000", "").toWellFormed().slice(0, max);
}

/** A view of one JSON object, with the path it was reached by (for the 422's detail). */
export class Reader {
  constructor(
    readonly value: Json,
    readonly path: string,
  ) {}

  static of(value: unknown, what: string): Reader {
    if (!isObject(value)) throw new AppError("validation_failed", `${what}: the payload is not a JSON object`);
    return new Reader(value, what);
  }

  private fail(key: string, expected: string): never {
    throw new AppError("validation_failed", `${this.path}.${key} is missing or not ${expected}`);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  obj(key: string): Reader {
    const value = this.value[key];
    if (!isObject(value)) this.fail(key, "an object");
    return new Reader(value, `${this.path}.${key}`);
  }

  optObj(key: string): Reader | undefined {
    return this.has(key) ? this.obj(key) : undefined;
  }

  list(key: string): Reader[] {
    const value = this.value[key];
    if (!Array.isArray(value)) this.fail(key, "an array");
    return value.map((item, i) => Reader.of(item, `${this.path}.${key}[${i}]`));
  }

  str(key: string, max = 300): string {
    const value = this.value[key];
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    if (typeof value !== "string" || !value.trim()) this.fail(key, "a non-empty string");
    return clean(value.trim(), max);
  }

  optStr(key: string, max = 300): string | null {
    const value = this.value[key];
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    return typeof value === "string" && value.trim() ? clean(value.trim(), max) : null;
  }

  /** A time (ISO 8601 text, or epoch milliseconds when `ms`), as ISO 8601; undefined when absent or unreadable. */
  optTime(key: string, unit: "iso" | "ms" | "s" = "iso"): string | undefined {
    const value = this.value[key];
    let at: number;
    if (typeof value === "number") at = unit === "s" ? value * 1000 : value;
    else if (typeof value === "string" && value.trim())
      at = /^\d+$/.test(value) ? Number(value) * (unit === "s" ? 1000 : 1) : Date.parse(value);
    else return undefined;
    const year = new Date(at).getUTCFullYear();
    // Alertmanager's "no end yet" is year 1; anything outside 1970..9999 is not a time we store.
    return Number.isFinite(at) && year >= 1970 && year <= 9999 ? new Date(at).toISOString() : undefined;
  }
}

/** The first of `times`, or now. */
export const timeOr = (...times: (string | undefined)[]): string =>
  times.find((t) => t !== undefined) ?? new Date().toISOString();

/** A vendor's level/priority word as one of our severities (unknown words are medium). */
export function severityOf(word: string | null | undefined, fallback: Severity = "medium"): Severity {
  switch ((word ?? "").trim().toLowerCase()) {
    case "fatal":
    case "critical":
    case "crit":
    case "p1":
    case "sev1":
    case "emergency":
    case "disaster":
      return "critical";
    case "error":
    case "high":
    case "p2":
    case "sev2":
    case "major":
      return "high";
    case "warning":
    case "warn":
    case "medium":
    case "p3":
    case "sev3":
    case "average":
      return "medium";
    case "low":
    case "p4":
    case "sev4":
    case "minor":
      return "low";
    case "info":
    case "informational":
    case "debug":
    case "p5":
    case "success":
      return "info";
    default:
      return fallback;
  }
}

/** A link we are willing to hand back to users: http(s) only. */
export const linkOf = (url: string | null): string | null =>
  url && /^https?:\/\//i.test(url) ? clean(url, 2000) : null;
