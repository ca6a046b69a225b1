// Documents (MongoDB documents, DynamoDB items) into the relay's rows: columns as the union of top-level keys in
// first-seen order, the row and byte caps, and denied fields removed. Pure.
import { stripDenied } from "../policy/nosql-shared.ts";
import type { QueryLimits } from "../types.ts";

/** One more than the caps allow, so the collector can tell "exactly maxRows" from "more". */
export function fetchLimit(requested: number | undefined, maxRows: number): number {
  return requested !== undefined && requested > 0 && requested <= maxRows ? requested : maxRows + 1;
}

export interface ShapedRows {
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
}

/**
 * Collects documents up to the caps: at most maxRows documents and maxBytes of JSON. Denied fields are removed
 * at any depth here as the last line of defence (the executor already removes them server-side).
 */
export class DocumentCollector {
  private readonly docs: Record<string, unknown>[] = [];
  private readonly columns: string[] = [];
  private readonly seen = new Set<string>();
  private bytes = 0;
  truncated = false;

  constructor(
    private readonly limits: Pick<QueryLimits, "maxRows" | "maxBytes">,
    private readonly denied: readonly string[] = [],
    /** The engine's own values as JSON-safe ones (BSON, DynamoDB numbers and sets). */
    private readonly convert: (raw: unknown) => unknown = (raw) => raw,
  ) {}

  /** Adds one document; false once a cap is reached (the caller stops reading). */
  add(raw: unknown): boolean {
    if (this.truncated) return false;
    if (this.docs.length >= this.limits.maxRows) {
      this.truncated = true;
      return false;
    }
    const safe = stripDenied(this.convert(raw), this.denied);
    const doc =
      safe !== null && typeof safe === "object" && !Array.isArray(safe)
        ? (safe as Record<string, unknown>)
        : { value: safe };
    const size = Buffer.byteLength(JSON.stringify(doc));
    if (this.bytes + size > this.limits.maxBytes) {
      this.truncated = true;
      return false;
    }
    this.bytes += size;
    for (const k of Object.keys(doc)) {
      if (this.seen.has(k)) continue;
      this.seen.add(k);
      this.columns.push(k);
    }
    this.docs.push(doc);
    return true;
  }

  /** Rows in column order; a forced-mask column the documents lack is added (null) so it shows as redacted. */
  finish(forcedColumns: readonly string[] = []): ShapedRows {
    const columns = [...this.columns, ...forcedColumns.filter((c) => !this.seen.has(c))];
    const rows = this.docs.map((d) => columns.map((c) => (c in d ? d[c] : null)));
    return { columns, rows, truncated: this.truncated };
  }
}

/** The documents of an array, through the caps. */
export function shapeDocuments(
  docs: readonly unknown[],
  limits: Pick<QueryLimits, "maxRows" | "maxBytes">,
  denied: readonly string[] = [],
  convert?: (raw: unknown) => unknown,
): ShapedRows {
  const c = new DocumentCollector(limits, denied, convert);
  for (const d of docs) if (!c.add(d)) break;
  return c.finish();
}
