// A WHERE clause built from optional filters, with numbered parameters: the one helper behind every
// filtered, keyset-paginated listing (issues, audit trail, compliance log). Everything that reaches SQL from a
// query string is checked here first, so a malformed filter is a 422 naming it, never a database error.
import { AppError } from "../errors.ts";
import { ID_PATTERN } from "../ids.ts";

// Calendar date, optional time and zone: the ISO 8601 subset a listing filter needs. PostgreSQL accepts more,
// JavaScript's Date.parse accepts other things again (" 2024", "2024-02-30"); this is what both agree on.
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * An ISO 8601 time as a normalised UTC string, or undefined when it is not one: the calendar date must exist
 * and the instant must fall in years 1..9999 (PostgreSQL rejects year 0 and JavaScript dates go far beyond 9999).
 */
export function parseIsoTime(value: string): string | undefined {
  const match = ISO_TIME.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (Number(match[4] ?? 0) > 23 || Number(match[5] ?? 0) > 59 || Number(match[6] ?? 0) > 59) return undefined;
  const at = Date.parse(value.replace(" ", "T"));
  if (Number.isNaN(at)) return undefined;
  const date = new Date(at);
  const utcYear = date.getUTCFullYear();
  return utcYear >= 1 && utcYear <= 9999 ? date.toISOString() : undefined;
}

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/**
 * A page size from a query string, as a number within 1..max (fallback when absent). The route's schema already
 * checks it; this makes the service safe on its own: the arithmetic is numeric and the maximum always holds.
 */
export function pageLimit(value: unknown, max: number, fallback = 50): number {
  if (value === undefined || value === null || value === "") return Math.min(fallback, max);
  const limit =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\d{1,9}$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max)
    throw new AppError("validation_failed", `limit must be an integer from 1 to ${max}`);
  return limit;
}

/** The paging every list route accepts: `limit` (1..200, default 50) and the `cursor` of the previous page. */
export interface PageQuery {
  limit?: number | string;
  cursor?: string;
}

/** One shape for every list: a page of rows and the cursor of the next page (null on the last). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * Keyset paging on the rows' time-ordered ids (ids sort as they were created): the page size and the id the
 * page starts after. The cursor is the previous page's last id, opaque to clients (base64url) and checked here.
 */
export function idKeyset(query: PageQuery = {}, max = 200): { limit: number; after: string | null } {
  const limit = pageLimit(query.limit, max);
  if (!query.cursor) return { limit, after: null };
  const id = Buffer.from(query.cursor, "base64url").toString("utf8");
  if (!ID_PATTERN.test(id))
    throw new AppError("validation_failed", "cursor is not valid; use next_cursor from the previous page");
  return { limit, after: id };
}

/** The page from `limit + 1` fetched rows: the extra row only says there is a next page. */
export function idPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? Buffer.from(last.id).toString("base64url") : null };
}

export class Where {
  private readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  constructor(clause: string, value: unknown) {
    this.add(clause, value);
  }

  /** Adds `clause` with its `?` replaced by the next parameter. */
  add(clause: string, value: unknown): this {
    this.params.push(value);
    this.clauses.push(clause.replace("?", `$${this.params.length}`));
    return this;
  }

  /** Adds a condition that takes no parameter. */
  raw(clause: string): this {
    this.clauses.push(clause);
    return this;
  }

  /** Adds `clause` when the filter was given. */
  maybe(clause: string, value: unknown): this {
    return value === undefined || value === null || value === "" ? this : this.add(clause, value);
  }

  /** A time filter given as ISO 8601; anything else (or a year outside 1..9999) is a 422 naming the parameter. */
  time(name: string, column: string, op: ">=" | "<", value: string | undefined): this {
    if (value === undefined) return this;
    const at = parseIsoTime(value);
    if (!at)
      throw new AppError(
        "validation_failed",
        `${name} must be an ISO 8601 time between years 1 and 9999 (e.g. 2024-05-01T00:00:00Z)`,
      );
    return this.add(`${column} ${op} ?::timestamptz`, at);
  }

  /** Keyset condition on (created_at, id) from an opaque cursor made by `cursorOf`. */
  afterCursor(cursor: string | undefined): this {
    if (!cursor) return this;
    const [at, id, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
    const time = at === undefined ? undefined : parseIsoTime(at);
    if (!time || !id || !ID_PATTERN.test(id) || rest.length)
      throw new AppError("validation_failed", "cursor is not valid; use next_cursor from the previous page");
    // The cursor keeps the row's time to the microsecond (PostgreSQL's precision): rounding it to the
    // millisecond would skip rows created within the same millisecond as a page's last row.
    this.params.push(at, id);
    // Sent as text and cast by the server: a driver that sees a timestamptz parameter would round it to the
    // millisecond on the way (postgres.js does).
    this.clauses.push(`(created_at, id) < ($${this.params.length - 1}::text::timestamptz, $${this.params.length})`);
    return this;
  }

  /** The next parameter's placeholder, for LIMIT. */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  toString(): string {
    return this.clauses.join(" and ");
  }
}

export function cursorOf(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString("base64url");
}
