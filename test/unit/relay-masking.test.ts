// The relay's masking as a client would see it: what leaves its network after maskRows, what detection finds
// and leaves alone, and the configuration errors it reports at start.
import { describe, expect, test } from "bun:test";
import * as c from "../../src/relay/masking/checksums.ts";
import { createMasker, hmacKeyFromEnv, validateMaskingConfig } from "../../src/relay/masking/index.ts";
import type { EntityKind, MaskingConfig } from "../../src/relay/masking/index.ts";

const key = new Uint8Array(32).fill(7);
const otherKey = new Uint8Array(32).fill(9);
const masker = (config: MaskingConfig = {}, k = key) => createMasker(config, k);
const kindsIn = (text: string) =>
  masker()
    .detect(text)
    .map((s) => [s.kind, text.slice(s.start, s.end)]);

describe("detection finds each kind in free text", () => {
  const cases: Array<[EntityKind, string, string]> = [
    ["email", "write to jane.doe+vip@mail.example.co.uk today", "jane.doe+vip@mail.example.co.uk"],
    ["phone", "call me at (415) 555-2671 after 5", "(415) 555-2671"],
    ["phone", "UK office +44 20 7946 0958.", "+44 20 7946 0958"],
    ["credit_card", "paid with 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"],
    ["credit_card", "amex 3782-822463-10005", "3782-822463-10005"],
    ["iban", "refund to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"],
    ["iban", "iban=DE89370400440532013000", "DE89370400440532013000"],
    ["ipv4", "login from 203.0.113.42 failed", "203.0.113.42"],
    ["ipv6", "client [2001:db8::8a2e:370:7334]:443", "2001:db8::8a2e:370:7334"],
    ["ipv6", "peer ::ffff:192.0.2.128 closed", "::ffff:192.0.2.128"],
    ["secret", "aws_access_key_id=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"],
    ["secret", "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 leaked", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"],
    ["secret", "postgres://app:hunt3r2!@db.internal:5432/app", "hunt3r2!"],
    ["secret", '{"password":"Sup3rS3cret!"}', "Sup3rS3cret!"],
    ["national_id", "SSN 123-45-6789 on file", "123-45-6789"],
    ["national_id", "CPF 111.444.777-35", "111.444.777-35"],
    ["national_id", "codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"],
    ["national_id", "DNI 12345678Z", "12345678Z"],
    ["national_id", "NIR 1 84 12 76 451 089 46", "1 84 12 76 451 089 46"],
  ];
  for (const [kind, text, value] of cases)
    test(`${kind}: ${value}`, () => expect(kindsIn(text)).toContainEqual([kind, value]));

  test("a JWT whose header decodes to JSON with alg, and a private key block, are one span each", () => {
    const jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    expect(kindsIn(`Authorization: Bearer ${jwt}`)).toEqual([["jwt", jwt]]);
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    expect(kindsIn(`key: ${pem}`)).toEqual([["secret", pem]]);
  });
});

test("hard negatives are left alone", () => {
  const negatives = [
    "request 550e8400-e29b-41d4-a716-446655440000 at 2026-12-07T10:30:45.123Z (ts 1733567445, 1733567445123 ms)",
    "order ORD-2026-000123, order #4155552671, invoice INV202612070001",
    "upgraded to v1.2.3 then 10.4.17-rc.1; running v10.0.19041.1; Version=4.0.0.0",
    "total $1,234.56 (EUR 99.90), HTTP 404 after 1500ms, memory 512Mi, ratio 0.123456789012",
    "host api-2.eu-west-1.internal.example.com, sent by deploy@localhost, GET https://api.example.com/v2/orders/123",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "_id 507f1f77bcf86cd799439011, issue iss_01jabcdefghjkmnpqrstvwxyz0, customer cus_NffrFeUfNV2Hib",
    "card 4111 1111 1111 1112 (bad Luhn), IBAN GB82 WEST 1234 5698 7654 33 (bad check), CPF 111.444.777-36",
    "mac 00:1a:2b:3c:4d:5e at 10:30:45 on 07/12/2026, at app.js:123:45, password: ********, token: expired",
    "avatar data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "at com.example.billing.AbstractPaymentProcessorFactoryBean in /var/lib/app/node_modules/typescript/lib/tsc.js",
  ];
  for (const text of negatives) expect(kindsIn(text)).toEqual([]);
});

describe("maskRows", () => {
  const columns = ["id", "email", "notes", "doc"];
  const rows = [
    [
      1,
      "Jane.Doe@example.com",
      "called from +1 415 555 2671, card 4111-1111-1111-1111",
      { contact: { email: "jane@example.com", phone: "+33 6 12 34 56 78" }, ip: "203.0.113.42", token_count: 12 },
    ],
  ];

  test("each action replaces the whole cell: redact, null, partial (last 4), pseudonymize", () => {
    const m = masker({
      columns: [
        { match: "a", action: "redact" },
        { match: "b", action: "null" },
        { match: "c", action: "partial" },
        { match: "d", action: "pseudonymize" },
      ],
    });
    const out = m.maskRows(["a", "b", "c", "d"], [["x1", "x2", "DE89370400440532013000", "x4"]]).rows[0];
    expect(out?.[0]).toBe("[REDACTED:column]");
    expect(out?.[1]).toBeNull();
    expect(out?.[2]).toBe("••••3000");
    expect(out?.[3]).toMatch(/^pse_[0-9a-f]{16}$/);
  });

  test("explicit rules match a column by name, table.column and glob, case-insensitively", () => {
    const m = masker({
      columns: [
        { match: "users.Nickname", action: "null" },
        { match: "*_NOTE*", action: "redact" },
      ],
    });
    const cols = ["nickname", "admin_notes", "other"];
    expect(m.maskRows(cols, [["n", "x", "y"]], { table: "users" }).rows[0]).toEqual([null, "[REDACTED:column]", "y"]);
    expect(m.maskRows(cols, [["n", "x", "y"]], { table: "teams" }).rows[0]).toEqual(["n", "[REDACTED:column]", "y"]);
    expect(
      masker({ columns: [{ match: "NickName", action: "null" }] }).maskRows(cols, [["n", "x", "y"]]).rows[0]?.[0],
    ).toBeNull();
  });

  test("name patterns mask by column and nested key; detection covers the rest; counts by kind and column", () => {
    const { rows: out, masked } = masker().maskRows(columns, rows);
    const [id, email, notes, doc] = out[0] ?? [];
    expect(id).toBe(1);
    expect(email).toMatch(/^pse_[0-9a-f]{16}$/);
    expect(notes).toBe("called from [REDACTED:phone], card [REDACTED:credit_card]");
    expect(doc).toEqual({
      contact: { email: expect.stringMatching(/^pse_/), phone: "••••5678" },
      ip: expect.stringMatching(/^pse_/),
      token_count: 12,
    });
    expect(masked.by_kind).toEqual({ email: 2, phone: 2, credit_card: 1, ipv4: 1 });
    expect(masked.by_column).toEqual({ email: 1, notes: 2, doc: 3 });
  });

  test("no original value appears anywhere in the result", () => {
    const secrets = [
      "Jane.Doe@example.com",
      "jane@example.com",
      "415 555 2671",
      "4111-1111-1111-1111",
      "203.0.113.42",
      "6 12 34 56 78",
    ];
    const serialized = JSON.stringify(masker().maskRows(columns, rows));
    for (const s of secrets) expect(serialized).not.toContain(s);
    expect(serialized.toLowerCase()).not.toContain("jane");
  });

  test("pseudonyms are stable for one key and value, differ across keys, and do not contain the value", () => {
    const once = masker().maskRows(["email"], [["a@example.com"], ["A@Example.com"], ["b@example.com"]]).rows;
    const again = masker().maskRows(["email"], [["a@example.com"]]).rows;
    const otherKeyRows = masker({}, otherKey).maskRows(["email"], [["a@example.com"]]).rows;
    expect(once[0]?.[0]).toBe(again[0]?.[0] as string);
    expect(once[1]?.[0]).toBe(once[0]?.[0] as string); // one person, one pseudonym, whatever the case
    expect(once[2]?.[0]).not.toBe(once[0]?.[0] as string);
    expect(otherKeyRows[0]?.[0]).not.toBe(once[0]?.[0] as string);
    expect(String(once[0]?.[0])).not.toContain("example");
  });

  test("forced columns are redacted whatever the rules say and counted as policy", () => {
    const { rows: out, masked } = masker({ columns: [{ match: "salary", action: "partial" }] }).maskRows(
      ["salary", "name"],
      [[123456789, "Ann"]],
      { forcedMask: ["SALARY"] },
    );
    expect(out[0]).toEqual(["[REDACTED:policy]", "Ann"]);
    expect(masked).toEqual({ by_kind: { policy: 1 }, by_column: { salary: 1 } });
  });

  test("JSON text in a string cell, arrays, numbers and bigints that are card numbers", () => {
    const m = masker();
    const { rows: out } = m.maskRows(
      ["payload", "list", "amount", "big"],
      [['{"user":{"password":"hunter2xx"},"n":1}', ["x@y.example.org", 3], 4111111111111111, 5555555555554444n]],
    );
    expect(JSON.parse(String(out[0]?.[0]))).toEqual({ user: { password: "[REDACTED:secret]" }, n: 1 });
    expect(out[0]?.[1]).toEqual(["[REDACTED:email]", 3]);
    expect(out[0]?.[2]).toBe("[REDACTED:credit_card]");
    expect(out[0]?.[3]).toBe("[REDACTED:credit_card]");
  });

  test("name patterns can be turned off, and detection limited to some kinds with another action", () => {
    const m = masker({ name_patterns: false, detect: { kinds: ["email"], action: "partial" } });
    const { rows: out } = m.maskRows(["email", "phone"], [["ann@example.com", "+1 415 555 2671"]]);
    expect(out[0]).toEqual(["••••ecom", "+1 415 555 2671"]);
    expect(m.detect("ann@example.com 203.0.113.1")).toEqual([{ kind: "email", start: 0, end: 15 }]);
  });

  test("the input rows are not modified", () => {
    const input = [[{ email: "a@example.com" }]];
    masker().maskRows(["doc"], input);
    expect(input).toEqual([[{ email: "a@example.com" }]]);
  });
});

describe("configuration", () => {
  test("a valid configuration is returned as given", () => {
    const raw = {
      columns: [{ match: "*email*", action: "pseudonymize" }],
      detect: { kinds: ["iban"], default_region: "fr" },
    };
    expect(validateMaskingConfig(raw)).toEqual({
      columns: [{ match: "*email*", action: "pseudonymize" }],
      detect: { kinds: ["iban"], default_region: "FR" },
    });
  });

  test("errors name the field and the allowed values", () => {
    const bad: Array<[unknown, string]> = [
      [
        {
          columns: [
            { match: "a", action: "redact" },
            { match: "b", action: "hash" },
          ],
        },
        "masking.columns[1].action: must be one of redact, null, partial, pseudonymize",
      ],
      [{ columns: [{ action: "null" }] }, "masking.columns[0].match"],
      [{ detect: { kinds: ["email", "ssn"] } }, "masking.detect.kinds[1]: must be one of email"],
      [{ detect: { default_region: "France" } }, "masking.detect.default_region"],
      [{ name_patterns: "yes" }, "masking.name_patterns: must be true or false"],
      [{ colums: [] }, "masking.colums: unknown setting"],
      ["redact", "masking: must be an object"],
    ];
    for (const [raw, message] of bad) expect(() => validateMaskingConfig(raw)).toThrow(message);
  });

  test("the HMAC key comes from the named environment variable and must be long enough", () => {
    const b64 = Buffer.alloc(32, 1).toString("base64");
    expect(hmacKeyFromEnv({ hmac_key_env: "MY_KEY" }, { MY_KEY: b64 })).toHaveLength(32);
    expect(() => hmacKeyFromEnv({}, {})).toThrow("CAUSELOOP_RELAY_HMAC_KEY: not set");
    expect(() => hmacKeyFromEnv({}, { CAUSELOOP_RELAY_HMAC_KEY: "c2hvcnQ=" })).toThrow("at least 32 bytes");
  });
});

test("checksums accept published examples and reject a changed digit", () => {
  expect(
    ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300"].every(
      c.ibanValid,
    ),
  ).toBe(true);
  expect(c.ibanValid("GB82WEST12345698765433")).toBe(false);
  expect(c.luhnValid("79927398713")).toBe(true);
  expect(c.luhnValid("79927398710")).toBe(false);
  expect(c.verhoeffValid("2363")).toBe(true);
  expect(c.verhoeffValid("2364")).toBe(false);
  expect(c.cpfValid("11144477735")).toBe(true);
  expect(c.cpfValid("11111111111")).toBe(false);
  expect(c.dniValid("12345678Z") && c.dniValid("X1234567L")).toBe(true);
  expect(c.codiceFiscaleValid("RSSMRA85T10A562S")).toBe(true);
  expect(c.codiceFiscaleValid("RSSMRA85T10A562T")).toBe(false);
  expect(c.nirValid("184127645108946")).toBe(true);
  expect(c.nirValid("184127645108947")).toBe(false);
});
