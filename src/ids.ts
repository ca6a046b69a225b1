// Prefixed, time-ordered ids: `<prefix>_` + 26 lowercase Crockford base32 characters
// (48 bits of milliseconds, then 80 random bits), the same format as the SQL function new_id().
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export const ID_PREFIXES = [
  "org",
  "ws",
  "wss",
  "usr",
  "mem",
  "iss",
  "pat",
  "pmt",
  "sa",
  "ses",
  "mfa",
  "sso",
  "clu",
  "pre",
  "rec",
  "act",
  "con",
  "whk",
  "iwh",
  "aud",
  "exp",
  "rtbf",
  "cpl",
  "key",
  "wfr",
  "job",
  "idem",
  "sid",
  "req",
  "off",
  "acp",
  "run",
  "msg",
  "dlv",
  "alr",
  "ast",
  "bkp",
  "evt",
  "sct",
  "scu",
  "scg",
  "sgm",
  "arv",
  "ari",
  "sls",
  "rlt",
  "rls",
  "rlq",
  "ins",
] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

export const ID_PATTERN = /^[a-z]+_[0-9a-hjkmnp-tv-z]{26}$/;

export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  let time = "";
  let ms = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[ms % 32] + time;
    ms = Math.floor(ms / 32);
  }
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rand = "";
  for (const byte of random) rand += ALPHABET[byte % 32];
  return `${prefix}_${time}${rand}`;
}

/** The millisecond timestamp encoded in an id made by newId() or new_id(). */
export function idTime(id: string): number {
  const body = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let ms = 0;
  for (const ch of body) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}
