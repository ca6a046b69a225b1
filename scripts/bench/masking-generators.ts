// Generators of valid entities (and near-miss negatives) for the synthetic masking corpus. Every value is
// built from a seeded PRNG, so the corpus is the same on every run; checksums are computed, not copied.
import { isValidPhoneNumber, parsePhoneNumber } from "libphonenumber-js/max";
import type { CountryCode } from "libphonenumber-js/max";
import { luhnValid, mod97 } from "../../src/relay/masking/checksums.ts";

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly rand: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.rand() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)] as T;
  }
  chars(alphabet: string, n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.rand() * alphabet.length)];
    return s;
  }
  digits(n: number): string {
    return this.chars("0123456789", n);
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX = "0123456789abcdef";
export const FIRST = [
  "jane",
  "john",
  "maria",
  "li",
  "ahmed",
  "sofia",
  "lukas",
  "aiko",
  "pierre",
  "olga",
  "raj",
  "chen",
];
export const LAST = [
  "doe",
  "smith",
  "garcia",
  "wang",
  "khan",
  "rossi",
  "muller",
  "tanaka",
  "martin",
  "ivanova",
  "patel",
];
const DOMAINS = [
  "example.com",
  "acme.io",
  "mail.example.org",
  "corp.example.co.uk",
  "shop.example.de",
  "uni.example.edu",
];

export function email(g: Gen): string {
  const local = g.pick([
    `${g.pick(FIRST)}.${g.pick(LAST)}`,
    `${g.pick(FIRST)}${g.int(1, 99)}`,
    `${g.pick(FIRST)[0]}${g.pick(LAST)}+${g.pick(["vip", "billing", "test"])}`,
    `${g.pick(LAST)}_${g.pick(FIRST)}`,
  ]);
  const name = g.rand() < 0.2 ? local.toUpperCase() : local;
  return `${name}@${g.pick(DOMAINS)}`;
}

const PHONE_COUNTRIES: CountryCode[] = ["US", "GB", "FR", "DE", "IN", "BR", "AU", "ES", "IT", "NL", "CA", "JP"];

/** A valid number of a random country, printed the way people write them; US numbers also in national forms. */
export function phone(g: Gen): string {
  for (;;) {
    const country = g.pick(PHONE_COUNTRIES);
    const example = parsePhoneNumber(`+${countryCallingCode(country)}${g.digits(g.int(9, 10))}`);
    if (!isValidPhoneNumber(example.number) || example.country !== country) continue;
    const intl = example.formatInternational();
    if (country === "US" || country === "CA") {
      const n = example.nationalNumber;
      return g.pick([
        intl,
        example.number,
        `(${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`,
        `${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}`,
        `${n.slice(0, 3)}.${n.slice(3, 6)}.${n.slice(6)}`,
      ]);
    }
    return g.pick([intl, intl, example.number, intl.replace(/ /g, "-")]);
  }
}

function countryCallingCode(c: CountryCode): string {
  return {
    US: "1",
    CA: "1",
    GB: "44",
    FR: "33",
    DE: "49",
    IN: "91",
    BR: "55",
    AU: "61",
    ES: "34",
    IT: "39",
    NL: "31",
    JP: "81",
  }[c as string] as string;
}

const CARD_BRANDS: Array<[string, number]> = [
  ["4", 16],
  ["4", 13],
  ["51", 16],
  ["55", 16],
  ["2221", 16],
  ["34", 15],
  ["37", 15],
  ["6011", 16],
  ["65", 16],
  ["3530", 16],
  ["36", 14],
  ["62", 16],
];

export function cardDigits(g: Gen, valid = true): string {
  const [prefix, len] = g.pick(CARD_BRANDS);
  const body = prefix + g.digits(len - prefix.length - 1);
  for (let d = 0; d < 10; d++) if (luhnValid(body + d) === valid) return body + d;
  return `${body}0`;
}

export function formatCard(g: Gen, d: string): string {
  if (d.length === 15 && g.rand() < 0.6) return `${d.slice(0, 4)} ${d.slice(4, 10)} ${d.slice(10)}`;
  const style = g.pick(["", " ", "-", " "]);
  return style ? (d.match(/.{1,4}/g) ?? []).join(style) : d;
}

// BBAN shapes: [country, letters at the start of the BBAN, total length].
const IBAN_SHAPES: Array<[string, number, number]> = [
  ["DE", 0, 22],
  ["FR", 0, 27],
  ["GB", 4, 22],
  ["NL", 4, 18],
  ["ES", 0, 24],
  ["IT", 1, 27],
  ["BE", 0, 16],
  ["CH", 0, 21],
  ["PL", 0, 28],
  ["SE", 0, 24],
];

export function iban(g: Gen, valid = true): string {
  const [cc, letters, len] = g.pick(IBAN_SHAPES);
  const bban = g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", letters) + g.digits(len - 4 - letters);
  let check = 98 - mod97(`${bban}${cc}00`);
  if (!valid) check = ((check + g.int(1, 8)) % 97) + 1;
  const compact = `${cc}${String(check).padStart(2, "0")}${bban}`;
  return g.rand() < 0.5 ? compact : (compact.match(/.{1,4}/g) ?? []).join(" ");
}

export function ipv4(g: Gen): string {
  return `${g.int(1, 223)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`;
}

export function ipv6(g: Gen): string {
  const groups = Array.from({ length: 8 }, () => g.chars(HEX, g.int(1, 4)).replace(/^0+(?=.)/, ""));
  const style = g.int(0, 4);
  if (style === 0) return groups.join(":");
  if (style === 1) return `2001:db8::${groups.slice(5).join(":")}`;
  if (style === 2) return `fe80::${groups.slice(4).join(":")}${g.rand() < 0.5 ? "%eth0" : ""}`;
  if (style === 3) return `::ffff:${ipv4(g)}`;
  return `${groups.slice(0, 3).join(":")}::${groups.slice(6).join(":")}`.toUpperCase();
}

const b64url = (v: Uint8Array | string) => Buffer.from(v).toString("base64url");

export function jwt(g: Gen): string {
  const alg = g.pick(["HS256", "RS256", "ES256"]);
  const header = b64url(JSON.stringify({ alg, typ: "JWT", ...(g.rand() < 0.5 ? { kid: g.chars(HEX, 8) } : {}) }));
  const payload = b64url(
    JSON.stringify({ sub: `usr_${g.chars(HEX, 12)}`, iat: 1733500000 + g.int(0, 9e5), scope: "read" }),
  );
  return `${header}.${payload}.${b64url(g.bytes(alg === "RS256" ? 256 : alg === "ES256" ? 64 : 32))}`;
}

/** Credentials of the shapes providers issue, with random bodies; each returns [text around, secret]. */
export function secret(g: Gen): [string, string, string] {
  switch (g.int(0, 11)) {
    case 0:
      return ["aws_access_key_id=", `AKIA${g.chars(UPPER_NUM, 16)}`, ""];
    case 1:
      return ["aws_secret_access_key = ", g.chars(`${ALNUM}+/`, 40), ""];
    case 2:
      return ["GITHUB_TOKEN: ", `ghp_${g.chars(ALNUM, 36)}`, ""];
    case 3:
      return ["pushed with ", `github_pat_${g.chars(ALNUM, 22)}_${g.chars(ALNUM, 59)}`, ""];
    case 4:
      return ["stripe key ", `sk_live_${g.chars(ALNUM, g.int(24, 99))}`, ""];
    case 5:
      return ["slack bot ", `xoxb-${g.digits(12)}-${g.digits(13)}-${g.chars(ALNUM, 24)}`, ""];
    case 6:
      return ["maps key=", `AIza${g.chars(`${ALNUM}_-`, 35)}`, ""];
    case 7:
      return ["DATABASE_URL=postgres://app:", `${g.chars(ALNUM, g.int(10, 18))}!`, `@db.internal:5432/app`];
    case 8:
      return [
        "password=",
        `${g.pick(["Summer", "Winter", "Tr0ub4dor", "Pa55"])}${g.int(10, 99)}${g.pick(["!", "#", "$"])}${g.chars(ALNUM, 4)}`,
        "",
      ];
    case 9:
      return ["Authorization: Bearer ", g.chars(`${ALNUM}-_`, g.int(32, 48)), ""];
    case 10:
      return ["X-Api-Key: ", g.chars(ALNUM, 32), ""];
    default: {
      const body = (
        Buffer.from(g.bytes(g.int(120, 180)))
          .toString("base64")
          .match(/.{1,64}/g) ?? []
      ).join("\\n");
      return ["key: ", `-----BEGIN RSA PRIVATE KEY-----\\n${body}\\n-----END RSA PRIVATE KEY-----`, ""];
    }
  }
}
