// The address ranges an outbound request to a user-given URL may never reach: everything that is not the
// public internet (loopback, private, link-local incl. the cloud metadata address, CGNAT, multicast,
// reserved, documentation). Checked with node:net's BlockList, one per label so a refusal can say why.
import { BlockList, isIP } from "node:net";

type Family = "ipv4" | "ipv6";

const RANGES: [label: string, family: Family, cidrs: string[]][] = [
  ["unspecified", "ipv4", ["0.0.0.0/8"]],
  ["loopback", "ipv4", ["127.0.0.0/8"]],
  ["private", "ipv4", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
  ["link-local", "ipv4", ["169.254.0.0/16"]],
  ["shared (CGNAT)", "ipv4", ["100.64.0.0/10"]],
  ["multicast", "ipv4", ["224.0.0.0/4"]],
  // IETF protocol assignments, documentation, 6to4 relay, benchmarking, class E and broadcast.
  [
    "reserved",
    "ipv4",
    [
      "192.0.0.0/24",
      "192.0.2.0/24",
      "192.88.99.0/24",
      "198.18.0.0/15",
      "198.51.100.0/24",
      "203.0.113.0/24",
      "240.0.0.0/4",
    ],
  ],
  ["unspecified", "ipv6", ["::/128"]],
  ["loopback", "ipv6", ["::1/128"]],
  ["private", "ipv6", ["fc00::/7"]],
  ["link-local", "ipv6", ["fe80::/10", "fec0::/10"]],
  ["multicast", "ipv6", ["ff00::/8"]],
  // IPv4-compatible (deprecated), local-use NAT64, discard-only, IETF protocol assignments (Teredo),
  // documentation, 6to4 (whose embedded IPv4 could be anything).
  ["reserved", "ipv6", ["::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "2002::/16"]],
];

function blockList(family: Family, cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split("/") as [string, string];
    list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

const LISTS = RANGES.map(([label, family, cidrs]) => ({ label, family, list: blockList(family, cidrs) }));

/** The eight 16-bit groups of an IPv6 address (with or without an embedded dotted IPv4 tail). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, "");
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a, b, c, d] = dotted[1].split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const part = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that is reached as IPv4:
 * IPv4-mapped (::ffff:a.b.c.d) and the NAT64 well-known prefix (64:ff9b::a.b.c.d, DNS64 networks).
 */
export function embeddedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !nat64) return undefined;
  const [hi = 0, lo = 0] = [g[6], g[7]];
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** An address as it is actually reached: mapped and NAT64 forms become their IPv4 address. */
export function canonicalAddress(address: string): { address: string; family: Family } {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 4) return { address: bare, family: "ipv4" };
  const v4 = embeddedIPv4(bare);
  return v4 ? { address: v4, family: "ipv4" } : { address: bare, family: "ipv6" };
}

/** Why an IP address is not a public internet address ("loopback", "private", ...), or undefined when it is. */
export function blockedRange(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (!isIP(bare)) return "invalid";
  const target = canonicalAddress(bare);
  const hit = LISTS.find((l) => l.family === target.family && l.list.check(target.address, target.family));
  if (!hit) return undefined;
  return target.address !== bare ? `${hit.label} (IPv4 inside IPv6)` : hit.label;
}

// Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS ECS task metadata and DNS, Alibaba, AWS IPv6):
// they hand out credentials, so no allowlist entry (not even the CIDR that contains them) makes them reachable.
const METADATA = blockList("ipv4", [
  "169.254.169.254/32",
  "169.254.169.253/32",
  "169.254.170.2/32",
  "100.100.100.200/32",
]);
const METADATA_V6 = blockList("ipv6", ["fd00:ec2::254/128", "fd00:ec2::23/128"]);

/** True for a cloud metadata address, in any of its spellings (IPv4-mapped, NAT64). */
export function isMetadataAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  if (!isIP(bare)) return false;
  const target = canonicalAddress(bare);
  return target.family === "ipv4" ? METADATA.check(target.address, "ipv4") : METADATA_V6.check(target.address, "ipv6");
}
