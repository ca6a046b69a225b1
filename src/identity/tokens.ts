// Personal access tokens: clp_pat_<workspace id body>_<64 hex secret>_<8 hex checksum>. The checksum
// (sha256 of everything before it) lets secret scanners recognise a token offline and lets us reject typos
// without a database round trip; the workspace part routes the lookup to the right tenant.
const PAT = /^clp_pat_([0-9a-z]{26})_([0-9a-f]{64})_([0-9a-f]{8})$/;

export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

export interface ParsedToken {
  workspaceId: string;
  hash: string;
}

export function parsePat(token: string): ParsedToken | undefined {
  const match = PAT.exec(token);
  if (!match) return undefined;
  const body = token.slice(0, token.lastIndexOf("_"));
  if (sha256Hex(body).slice(0, 8) !== match[3]) return undefined;
  return { workspaceId: `ws_${match[1]}`, hash: sha256Hex(token) };
}

export function newPat(workspaceId: string): { token: string; hash: string; prefix: string } {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
  const body = `clp_pat_${workspaceId.slice(3)}_${secret}`;
  const token = `${body}_${sha256Hex(body).slice(0, 8)}`;
  return { token, hash: sha256Hex(token), prefix: token.slice(0, 16) };
}
