// Turns MongoDB documents into the relay's rows: JSON-safe values (ObjectId → hex, Date → ISO, Long and
// Decimal128 → string, Binary → base64), columns as the union of top-level keys in first-seen order, and the
// row and byte caps. Pure, so it is tested with real BSON values and no server.
import type { QueryLimits } from "../types.ts";
import { stripDenied } from "../policy/nosql-shared.ts";

interface BsonLike {
  _bsontype: string;
  toHexString?: () => string;
  toString: () => string;
  toJSON?: () => unknown;
}

const isBson = (v: object): v is BsonLike => typeof (v as { _bsontype?: unknown })._bsontype === "string";

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function bsonToJson(v: BsonLike): unknown {
  const o = v as unknown as Record<string, unknown>;
  switch (v._bsontype) {
    case "ObjectId":
    case "ObjectID":
      return v.toHexString?.() ?? v.toString();
    case "Int32":
    case "Double":
      return Number(o.value);
    case "Binary":
      return base64(o.buffer as Uint8Array);
    case "Timestamp":
      return { t: Number(o.high), i: Number(o.low) };
    case "BSONRegExp":
      return `/${String(o.pattern)}/${String(o.options)}`;
    case "MinKey":
    case "MaxKey":
      return v._bsontype;
    case "DBRef":
      return { $ref: o.collection, $id: toJsonSafe(o.oid), ...(o.db ? { $db: o.db } : {}) };
    case "Code":
      return String(o.code);
    case "BSONSymbol":
      return String(o.value);
    default:
      // Long, Decimal128 and anything newer: their decimal text keeps every digit.
      return v.toString();
  }
}

/** A BSON value (as the driver decodes it) as a value JSON can carry without losing information. */
export function toJsonSafe(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v !== "object") return typeof v === "string" || typeof v === "boolean" ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Uint8Array) return base64(v);
  if (Array.isArray(v)) return v.map(toJsonSafe);
  if (isBson(v)) return bsonToJson(v);
  // fromEntries defines own properties, so a stored key named "__proto__" stays data and never a prototype.
  return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, toJsonSafe(inner)]));
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
  private bytes = 0;
  truncated = false;

  constructor(
    private readonly limits: Pick<QueryLimits, "maxRows" | "maxBytes">,
    private readonly denied: readonly string[] = [],
  ) {}

  /** Adds one document; false once a cap is reached (the caller stops reading). */
  add(raw: unknown): boolean {
    if (this.truncated) return false;
    if (this.docs.length >= this.limits.maxRows) {
      this.truncated = true;
      return false;
    }
    const safe = stripDenied(toJsonSafe(raw), this.denied);
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
    for (const k of Object.keys(doc)) if (!this.columns.includes(k)) this.columns.push(k);
    this.docs.push(doc);
    return true;
  }

  /** Rows in column order; a forced-mask column the documents lack is added (null) so it shows as redacted. */
  finish(forcedColumns: readonly string[] = []): ShapedRows {
    const columns = [...this.columns, ...forcedColumns.filter((c) => !this.columns.includes(c))];
    const rows = this.docs.map((d) => columns.map((c) => (c in d ? d[c] : null)));
    return { columns, rows, truncated: this.truncated };
  }
}

/** The documents of an array, through the caps; used for results that arrive whole (distinct, count). */
export function shapeDocuments(
  docs: readonly unknown[],
  limits: Pick<QueryLimits, "maxRows" | "maxBytes">,
  denied: readonly string[] = [],
): ShapedRows {
  const c = new DocumentCollector(limits, denied);
  for (const d of docs) if (!c.add(d)) break;
  return c.finish();
}
