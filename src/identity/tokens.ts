// Opaque tokens: clp_<kind>_<workspace id body>_<64 hex secret>_<8 hex checksum>. kind is pat (personal
// access token), rt (refresh token), inv (invitation), hook (an inbound webhook's receiving URL) or scim (a
// workspace's SCIM provisioning token) or relay (a relay agent's credential). The checksum (sha256 of everything before it) lets
// secret scanners recognise a token offline and lets us reject typos without a database round trip; the
// workspace part routes the lookup to the right tenant. Only sha256(token) is ever stored.
export type TokenKind = "pat" | "rt" | "inv" | "hook" | "scim" | "relay";

export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

export interface ParsedToken {
  workspaceId: string;
  hash: string;
}

const TOKEN_PATTERNS = new Map<TokenKind, RegExp>();
const tokenPattern = (kind: TokenKind): RegExp => {
  let pattern = TOKEN_PATTERNS.get(kind);
  if (!pattern) {
    pattern = new RegExp(`^clp_${kind}_([0-9a-z]{26})_([0-9a-f]{64})_([0-9a-f]{8})$`);
    TOKEN_PATTERNS.set(kind, pattern);
  }
  return pattern;
};

export function parseToken(kind: TokenKind, token: string): ParsedToken | undefined {
  const match = tokenPattern(kind).exec(token);
  if (!match) return undefined;
  const body = token.slice(0, token.lastIndexOf("_"));
  if (sha256Hex(body).slice(0, 8) !== match[3]) return undefined;
  return { workspaceId: `ws_${match[1]}`, hash: sha256Hex(token) };
}

export function newToken(kind: TokenKind, workspaceId: string): { token: string; hash: string; prefix: string } {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
  const body = `clp_${kind}_${workspaceId.slice(3)}_${secret}`;
  const token = `${body}_${sha256Hex(body).slice(0, 8)}`;
  return { token, hash: sha256Hex(token), prefix: token.slice(0, 16) };
}

export const parsePat = (token: string) => parseToken("pat", token);
export const newPat = (workspaceId: string) => newToken("pat", workspaceId);
