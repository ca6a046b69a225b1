// The client's real address: the socket's peer, unless that peer is a proxy the operator trusts
// (CAUSELOOP_TRUSTED_PROXIES), in which case X-Forwarded-For (or Forwarded) is walked from the right, past
// every trusted hop, to the first address the client could not have written. A header from an untrusted peer
// is ignored, so nobody picks the address their audit rows and throttles are keyed on.
import { isIP } from "node:net";
import { addressRanges, parseAllowlist } from "../net/policy.ts";

export interface TrustedProxies {
  has(address: string): boolean;
  readonly empty: boolean;
}

/** Strips IPv4-mapped IPv6 (::ffff:1.2.3.4) and brackets, so one client has one spelling. */
export function normalizeAddress(address: string): string {
  const bare = address
    .trim()
    .replace(/^\[|\]$/g, "")
    .replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return (mapped?.[1] ?? bare).toLowerCase();
}

/**
 * Parses a comma-separated list of IP addresses and CIDRs (the outbound allowlist's grammar, without host
 * names: a proxy is known by its address); throws a one-line error naming a bad entry.
 */
export function parseTrustedProxies(raw: string | undefined): TrustedProxies {
  const { hosts, cidrs } = parseAllowlist(raw);
  if (hosts[0]) throw new Error(`'${hosts[0]}' is not an IP address or CIDR (a trusted proxy is named by its address)`);
  const list = addressRanges(cidrs);
  return {
    empty: cidrs.length === 0,
    has(address) {
      const normalized = normalizeAddress(address);
      const family = isIP(normalized);
      return family !== 0 && list.check(normalized, family === 6 ? "ipv6" : "ipv4");
    },
  };
}

/** The `for=` addresses of a Forwarded header (RFC 7239), in order. */
function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(",")) {
    const match = /(?:^|;)\s*for\s*=\s*"?([^";,]+)"?/i.exec(element);
    if (match?.[1])
      out.push(match[1].replace(/^\[([^\]]+)\](?::\d+)?$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1"));
  }
  return out;
}

/** The client's address for this request (undefined when there is no socket, as in tests calling the app directly). */
export function clientAddress(peer: string | undefined, headers: Headers, trusted: TrustedProxies): string | undefined {
  if (!peer) return undefined;
  const socket = normalizeAddress(peer);
  if (trusted.empty || !trusted.has(socket)) return socket;
  const forwarded = headers.get("forwarded");
  const chain = forwarded
    ? forwardedFor(forwarded)
    : (headers.get("x-forwarded-for") ?? "")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(chain[i] as string);
    if (!isIP(hop)) return socket; // a malformed hop: do not trust anything to its left
    if (!trusted.has(hop)) return hop;
  }
  return chain.length ? normalizeAddress(chain[0] as string) : socket;
}

/**
 * Whether the client reached us over TLS: natively (`tls`), or through a trusted proxy that says so
 * (`X-Forwarded-Proto: https` or `Forwarded: proto=https`, believed only from a trusted peer).
 */
export function reachedOverTls(
  peer: string | undefined,
  headers: Headers,
  trusted: TrustedProxies,
  tls: boolean,
): boolean {
  if (tls) return true;
  if (!peer || trusted.empty || !trusted.has(normalizeAddress(peer))) return false;
  const forwarded = /(?:^|[;,\s])proto=("?)https\1(?:[;,\s]|$)/i.test(headers.get("forwarded") ?? "");
  const proto = (headers.get("x-forwarded-proto") ?? "").split(",")[0]?.trim().toLowerCase();
  return forwarded || proto === "https";
}
