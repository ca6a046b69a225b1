// DynamoDB items as JSON-safe values: numbers stay numbers while no digit is lost (else their exact decimal
// text), sets become arrays, binary becomes base64. Pure.
import { NumberValue } from "@aws-sdk/lib-dynamodb";
import type { TableDescription } from "@aws-sdk/client-dynamodb";
import { base64 } from "./mongodb-shape.ts";

/** Significant digits of a decimal text: 15 or fewer always survive a trip through a double. */
function significantDigits(text: string): number {
  const mantissa = (text.split(/e/i)[0] ?? "").replace(/^[-+]/, "");
  return mantissa.replace(".", "").replace(/^0+/, "").replace(/0+$/, "").length;
}

/** A DynamoDB number (its exact text) as a JS number when that is exact, else the text itself. */
export function dynamoNumber(text: string): number | string {
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  if (/^-?\d+$/.test(text)) return Number.isSafeInteger(n) ? n : text;
  return significantDigits(text) <= 15 ? n : text;
}

/** One unmarshalled attribute value (numbers wrapped as NumberValue) as a plain JSON-ready value. */
export function dynamoToJson(v: unknown): unknown {
  if (v instanceof NumberValue) return dynamoNumber(v.value);
  if (v instanceof Set) return [...v].map(dynamoToJson);
  if (Array.isArray(v)) return v.map(dynamoToJson);
  if (v instanceof Uint8Array) return base64(v);
  if (v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, dynamoToJson(inner)]));
}

/** DescribeTable as one row a person can read during an incident. */
export function describeRow(t: TableDescription | undefined): Record<string, unknown> {
  return {
    table: t?.TableName ?? null,
    status: t?.TableStatus ?? null,
    item_count: t?.ItemCount ?? null,
    size_bytes: t?.TableSizeBytes ?? null,
    key_schema: (t?.KeySchema ?? []).map((k) => `${k.AttributeName} ${k.KeyType}`),
    attributes: (t?.AttributeDefinitions ?? []).map((a) => `${a.AttributeName} ${a.AttributeType}`),
    indexes: [...(t?.GlobalSecondaryIndexes ?? []), ...(t?.LocalSecondaryIndexes ?? [])].map((i) => i.IndexName),
    billing_mode: t?.BillingModeSummary?.BillingMode ?? (t?.ProvisionedThroughput ? "PROVISIONED" : null),
    created: t?.CreationDateTime?.toISOString() ?? null,
  };
}
