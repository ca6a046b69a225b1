// Which rule masks a whole cell or JSON value by its column or key name: the policy's forced columns, the
// client's explicit rules, then the built-in name patterns.
import type { ColumnAction, ColumnRule } from "./types.ts";

export interface NameRule {
  /** What by_kind counts the cell as: the entity kind, "column" for explicit rules, "policy" when forced. */
  kind: string;
  action: ColumnAction;
  /** Apply only to strings (and numbers where said): `token_count: 12` is not a secret. */
  stringsOnly?: boolean;
}

// Built-in patterns on the name split into lower-case words (`customerEmail` → customer_email). They match the
// name's last word(s), so `email` and `billing_email` are masked but `email_verified` and `token_count` are not.
// Emails and IPs are pseudonymized so the same person or client stays joinable across results; phones, cards
// and IBANs keep their last four (what support staff ask a caller to confirm); the rest is redacted.
const NAME_PATTERNS: Array<[RegExp, NameRule]> = [
  [/(?:^|_)e_?mail(?:_address|_addr)?$/, { kind: "email", action: "pseudonymize" }],
  [
    /(?:^|_)(?:ip|ip_addr(?:ess)?|remote_addr(?:ess)?|x_forwarded_for|client_ip|ip_v[46])$/,
    { kind: "ip", action: "pseudonymize" },
  ],
  [
    /(?:^|_)(?:phone|telephone|tel|mobile|cell|fax|msisdn|phone_number)(?:_number|_no)?$/,
    { kind: "phone", action: "partial" },
  ],
  [
    /(?:^|_)(?:card|cc|credit_card|card_number|pan|cc_number|ccn)(?:_number|_no|_num)?$/,
    { kind: "credit_card", action: "partial" },
  ],
  [/(?:^|_)(?:iban|bank_account|account_number)(?:_number|_no)?$/, { kind: "iban", action: "partial" }],
  [
    /(?:^|_)(?:ssn|social_security(?:_number)?|national_id|nin|nino|nir|tax_id|tin|cpf|aadhaar|passport(?:_number|_no)?|dni|nie|codice_fiscale|bsn)$/,
    { kind: "national_id", action: "redact" },
  ],
  [
    /(?:^|_)(?:pass(?:word|wd)?(?:_hash)?|pwd|secret|token|api_key|apikey|access_key|secret_key|private_key|client_secret|credentials?|auth|authorization|cookie|session|signing_key|refresh_token|access_token|otp|mfa_secret)$/,
    { kind: "secret", action: "redact", stringsOnly: true },
  ],
  [
    /(?:^|_)(?:street|address|address_line_?\d?|postal_address|home_address|billing_address|shipping_address)$/,
    { kind: "address", action: "redact" },
  ],
  [/(?:^|_)(?:dob|date_of_birth|birth_date|birthdate|birthday)$/, { kind: "date_of_birth", action: "redact" }],
];

/** `customerEmail`, `Customer-Email`, `customer.email` → `customer_email`. */
export function normalizeName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
}

export function builtInRule(name: string): NameRule | undefined {
  const normalized = normalizeName(name);
  for (const [re, rule] of NAME_PATTERNS) if (re.test(normalized)) return rule;
  return undefined;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Explicit rules compiled once; a rule is tried on the bare name and on its qualified form. */
export function compileColumnRules(
  rules: ColumnRule[],
): (name: string, qualified?: string) => ColumnAction | undefined {
  const compiled = rules.map((r) => ({ re: globToRegExp(r.match), dotted: r.match.includes("."), action: r.action }));
  return (name, qualified) => {
    for (const r of compiled) {
      const target = r.dotted ? qualified : name;
      if (target !== undefined && r.re.test(target)) return r.action;
    }
    return undefined;
  };
}
