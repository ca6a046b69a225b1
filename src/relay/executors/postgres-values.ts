// Turns what postgres.js hands back into values that survive JSON unchanged: bigint as a string, bytes as
// PostgreSQL's "\x…" hex text, non-finite numbers as strings, dates as ISO text. Date and time columns are
// read as PostgreSQL's own text (see TEXT_TIME_TYPES), so microseconds, time zones and "infinity" survive.

/** OIDs of date, time, timestamp, timestamptz and timetz: parsed as text instead of into Date objects. */
export const TEXT_TIME_TYPES = [1082, 1083, 1114, 1184, 1266];

export function jsonSafe(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString("hex")}`;
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = jsonSafe(inner);
    return out;
  }
  return String(value);
}
