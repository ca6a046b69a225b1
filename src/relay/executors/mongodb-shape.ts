// MongoDB values as JSON-safe values: ObjectId → hex, Date → ISO, Long and Decimal128 → their decimal text,
// Binary → base64. Pure, so it is tested with real BSON values and no server.

interface BsonLike {
  _bsontype: string;
  toHexString?: () => string;
  toString: () => string;
  toJSON?: () => unknown;
}

const isBson = (v: object): v is BsonLike => typeof (v as { _bsontype?: unknown })._bsontype === "string";

export function base64(bytes: Uint8Array): string {
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
