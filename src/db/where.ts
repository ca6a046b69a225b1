// A WHERE clause built from optional filters, with numbered parameters: the one helper behind every
// filtered, keyset-paginated listing (issues, audit trail, compliance log).
import { AppError } from "../errors.ts";

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

  /** A time filter given as ISO 8601; anything else is a 422 naming the parameter. */
  time(name: string, column: string, op: ">=" | "<", value: string | undefined): this {
    if (value === undefined) return this;
    if (Number.isNaN(Date.parse(value))) throw new AppError("validation_failed", `${name} must be an ISO 8601 time`);
    return this.add(`${column} ${op} ?::timestamptz`, new Date(value).toISOString());
  }

  /** Keyset condition on (created_at, id) from an opaque cursor made by `cursorOf`. */
  afterCursor(cursor: string | undefined): this {
    if (!cursor) return this;
    const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
    if (!at || !id || Number.isNaN(Date.parse(at))) throw new AppError("validation_failed", "cursor is not valid; use next_cursor from the previous page");
    this.params.push(at, id);
    this.clauses.push(`(created_at, id) < ($${this.params.length - 1}::timestamptz, $${this.params.length})`);
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
