// The outbound policy for URLs that users (tenant admins) give us: https only, no credentials in the URL,
// and never an address outside the public internet, unless the operator's allowlist
// (CAUSELOOP_OUTBOUND_ALLOWLIST: host names and CIDRs) says so. An allowlisted target may also use plain
// http: operators list internal services (an IdP on the private network, a test receiver) that often
// have no public certificate, and the allowlist is an operator decision no tenant can change.
import { BlockList, isIP } from "node:net";
import { blockedRange, canonicalAddress, isMetadataAddress } from "./ranges.ts";

/** A refusal by the outbound guard. Its message is safe to show and log: it never repeats URL credentials. */
export class OutboundRefused extends Error {
  override name = "OutboundRefused";
}

export interface OutboundAllowlist {
  /** Exact host names (lower case, no trailing dot): any address they resolve to is allowed. */
  hosts: string[];
  /** Addresses and CIDRs (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`) allowed although not public. */
  cidrs: string[];
}

export interface OutboundPolicy {
  readonly allowlist: OutboundAllowlist;
  /** The host name or literal IP (no brackets) is on the allowlist. */
  allowsHost(host: string): boolean;
  /** The resolved address lies in an allowlisted CIDR (never a cloud metadata address, whatever the list says). */
  allowsAddress(address: string): boolean;
  /** Whole request, redirects and body included. */
  readonly timeoutMs: number;
  /** Largest response body read (after decompression). */
  readonly maxBytes: number;
  readonly maxRedirects: number;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Parses the comma-separated allowlist; throws an Error naming the first bad entry. */
export function parseAllowlist(raw: string | undefined): OutboundAllowlist {
  const allowlist: OutboundAllowlist = { hosts: [], cidrs: [] };
  for (const entry of (raw ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase().replace(/\.$/, ""))
    .filter(Boolean)) {
    if (entry.includes("/")) {
      const [address = "", prefix = "", extra] = entry.split("/");
      const family = isIP(address);
      const max = family === 6 ? 128 : 32;
      if (!family || extra !== undefined || !/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
        throw new Error(`'${entry}' is not a valid CIDR (an IPv4 or IPv6 address, '/', a prefix length up to ${max})`);
      }
      allowlist.cidrs.push(entry);
    } else if (isIP(entry.replace(/^\[|\]$/g, ""))) {
      allowlist.cidrs.push(entry.replace(/^\[|\]$/g, ""));
    } else if (/^[\d.]+$/.test(entry) || entry.includes(":")) {
      throw new Error(`'${entry}' is not a valid IP address`);
    } else if (!HOST_NAME.test(entry)) {
      throw new Error(`'${entry}' is neither a host name nor an IP address or CIDR`);
    } else {
      allowlist.hosts.push(entry);
    }
  }
  return allowlist;
}

/** A BlockList of addresses and CIDRs as parseAllowlist validated them (a bare address is its own /32 or /128). */
export function addressRanges(cidrs: readonly string[]): BlockList {
  const ranges = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", prefix] = cidr.split("/");
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    ranges.addSubnet(address, prefix === undefined ? (family === "ipv6" ? 128 : 32) : Number(prefix), family);
  }
  return ranges;
}

export function outboundPolicy(
  options: {
    allowlist?: OutboundAllowlist | string;
    timeoutMs?: number;
    maxBytes?: number;
    maxRedirects?: number;
  } = {},
): OutboundPolicy {
  const allowlist =
    typeof options.allowlist === "string"
      ? parseAllowlist(options.allowlist)
      : (options.allowlist ?? { hosts: [], cidrs: [] });
  const hosts = new Set(allowlist.hosts);
  const ranges = addressRanges(allowlist.cidrs);
  const allowsAddress = (address: string) => {
    if (!isIP(address.replace(/^\[|\]$/g, "")) || isMetadataAddress(address)) return false;
    const target = canonicalAddress(address);
    return ranges.check(target.address, target.family);
  };
  return {
    allowlist,
    allowsHost: (host) => hosts.has(host) || allowsAddress(host),
    allowsAddress,
    timeoutMs: options.timeoutMs ?? 5_000,
    maxBytes: options.maxBytes ?? 512 * 1024,
    maxRedirects: options.maxRedirects ?? 3,
  };
}

/** The URL's host as compared with the allowlist: lower case, IPv6 without brackets, no trailing dot. */
export function hostOf(url: URL): string {
  return url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
}

/**
 * The checks that need no DNS: a parseable http(s) URL without credentials, https unless allowlisted, and
 * no literal IP outside the public internet (decimal, octal and hex forms are normalised to dotted IPv4 by
 * the URL parser before the check). Returns the parsed URL; throws OutboundRefused.
 */
export function checkUrl(raw: string | URL, policy: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefused("is not a valid URL");
  }
  if (url.username || url.password) throw new OutboundRefused("must not contain credentials (user:password@)");
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new OutboundRefused("must be an https:// URL");
  const host = hostOf(url);
  const allowlisted = policy.allowsHost(host);
  if (url.protocol === "http:" && !allowlisted)
    throw new OutboundRefused("must use https (plain http only for hosts in CAUSELOOP_OUTBOUND_ALLOWLIST)");
  if (allowlisted) return url;
  const range = isIP(host) ? blockedRange(host) : undefined;
  if (range) throw new OutboundRefused(`points to ${host}, a ${range} address`);
  return url;
}

/**
 * checkUrl, plus the names that are loopback by definition (`localhost`, `*.localhost`, RFC 6761), for URLs
 * being stored: refused at once instead of at the first fetch, where DNS resolution refuses them anyway.
 */
export function checkUserUrl(raw: string | URL, policy: OutboundPolicy): URL {
  const url = checkUrl(raw, policy);
  const host = hostOf(url);
  if ((host === "localhost" || host.endsWith(".localhost")) && !policy.allowsHost(host))
    throw new OutboundRefused(`points to ${host}, a loopback name`);
  return url;
}
