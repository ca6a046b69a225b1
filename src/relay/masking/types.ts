// The masking module's public shapes. The agent builds one Masker per relay from the client's configuration
// and its own HMAC key; the result it sends carries only MaskedCounts, never the values it replaced.
import type { MaskedCounts } from "../types.ts";

export type EntityKind =
  | "email"
  | "phone"
  | "credit_card"
  | "iban"
  | "ipv4"
  | "ipv6"
  | "jwt"
  | "secret"
  | "national_id";

export const ENTITY_KINDS: readonly EntityKind[] = [
  "email",
  "phone",
  "credit_card",
  "iban",
  "ipv4",
  "ipv6",
  "jwt",
  "secret",
  "national_id",
];

export type ColumnAction = "redact" | "null" | "partial" | "pseudonymize";
export type DetectAction = "redact" | "partial" | "pseudonymize";

export interface ColumnRule {
  /** A column name, "table.column" (or "column.key" for nested keys), or a glob with * and ?; case-insensitive. */
  match: string;
  action: ColumnAction;
}

export interface MaskingConfig {
  columns?: ColumnRule[];
  /** Built-in rules by column or key name (see rules.ts); default true. */
  name_patterns?: boolean;
  /** Entity detection in free text and JSON strings; default: every kind, action redact, region US. */
  detect?: { kinds?: EntityKind[]; default_region?: string; action?: DetectAction };
  /** The environment variable holding the relay's pseudonymization key (default CAUSELOOP_RELAY_HMAC_KEY). */
  hmac_key_env?: string;
}

export interface Span {
  kind: EntityKind;
  start: number;
  end: number;
}

export interface MaskRowsOptions {
  /** Columns the policy says must be redacted whatever the rules say; counted as kind "policy". */
  forcedMask?: string[];
  /** The table the rows came from, for "table.column" rules. */
  table?: string;
}

export interface Masker {
  /** Returns new rows (the input is not modified) and counts by kind and by column, never values. */
  maskRows(columns: string[], rows: unknown[][], opts?: MaskRowsOptions): { rows: unknown[][]; masked: MaskedCounts };
  /** Entity spans found in a string, sorted by start (for the benchmark and tests). */
  detect(text: string): Span[];
}
