import { BlockList, isIP } from 'node:net';

/**
 * Where git must never connect: every block of the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries that is not globally reachable, plus the few that are but can never be a Git host
 * (anycast and translation infrastructure), multicast, and the reserved IPv6 space. Loopback is
 * listed too; GIT_ALLOW_LOOPBACK lifts it alone (see isForbiddenAddress).
 * IPv4: https://www.iana.org/assignments/iana-ipv4-special-registry
 * IPv6: https://www.iana.org/assignments/iana-ipv6-special-registry,
 *       https://www.iana.org/assignments/ipv6-address-space
 */
const IPV4_BLOCKS: Array<[string, number]> = [
  ['0.0.0.0', 8], // "This network" (RFC 791)
  ['10.0.0.0', 8], // Private-Use (RFC 1918)
  ['100.64.0.0', 10], // Shared Address Space, carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // Loopback (RFC 1122)
  ['169.254.0.0', 16], // Link Local (RFC 3927), incl. 169.254.169.254 cloud metadata
  ['172.16.0.0', 12], // Private-Use (RFC 1918)
  ['192.0.0.0', 24], // IETF Protocol Assignments (RFC 6890), incl. DS-Lite, NAT64 discovery
  ['192.0.2.0', 24], // Documentation, TEST-NET-1 (RFC 5737)
  ['192.31.196.0', 24], // AS112-v4 (RFC 7535): reachable, but DNS sink servers only
  ['192.52.193.0', 24], // AMT (RFC 7450): reachable, but multicast relays only
  ['192.88.99.0', 24], // Deprecated 6to4 Relay Anycast (RFC 7526)
  ['192.168.0.0', 16], // Private-Use (RFC 1918)
  ['192.175.48.0', 24], // Direct Delegation AS112 Service (RFC 7534): DNS sink servers only
  ['198.18.0.0', 15], // Benchmarking (RFC 2544)
  ['198.51.100.0', 24], // Documentation, TEST-NET-2 (RFC 5737)
  ['203.0.113.0', 24], // Documentation, TEST-NET-3 (RFC 5737)
  ['224.0.0.0', 4], // Multicast (RFC 5771; IPv4 Multicast Address Space registry)
  ['240.0.0.0', 4], // Reserved (RFC 1112), incl. 255.255.255.255 Limited Broadcast (RFC 919)
];

const IPV6_BLOCKS: Array<[string, number]> = [
  ['::', 96], // ::/128 Unspecified, ::1/128 Loopback (RFC 4291), and the deprecated IPv4-compatible ::/96 (RFC 4291 2.5.5.1)
  ['64:ff9b::', 96], // IPv4-IPv6 Translation (RFC 6052): reachable, but a NAT64 gateway may reach private IPv4
  ['64:ff9b:1::', 48], // IPv4-IPv6 Translation, local use (RFC 8215)
  ['100::', 64], // Discard-Only Address Block (RFC 6666)
  ['2001::', 23], // IETF Protocol Assignments (RFC 2928): Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID 2001:10::/28, ORCHIDv2 2001:20::/28
  ['2001:db8::', 32], // Documentation (RFC 3849)
  ['2002::', 16], // 6to4 (RFC 3056): embeds any IPv4 address
  ['2620:4f:8000::', 48], // Direct Delegation AS112 Service (RFC 7534): DNS sink servers only
  ['3fff::', 20], // Documentation (RFC 9637)
  ['5f00::', 16], // Segment Routing SIDs (RFC 9602)
  ['fc00::', 7], // Unique-Local (RFC 4193), incl. fd00:ec2::254 cloud metadata
  ['fe80::', 10], // Link-Local Unicast (RFC 4291)
  ['fec0::', 10], // Site-local, deprecated (RFC 3879; IPv6 Address Space registry)
  ['ff00::', 8], // Multicast (RFC 4291)
  // Outside 2000::/3 nothing is allocated as global unicast (IPv6 Address Space registry): reserved by the IETF.
  ['::', 3],
  ['4000::', 2],
  ['8000::', 1],
];

// One list per family: a BlockList also matches IPv4 addresses against IPv6 rules (as ::ffff:a.b.c.d),
// so one mixed list would let the reserved ::/3 refuse every IPv4 address.
const IPV4_SPECIAL = new BlockList();
for (const [net, prefix] of IPV4_BLOCKS) IPV4_SPECIAL.addSubnet(net, prefix, 'ipv4');
const IPV6_SPECIAL = new BlockList();
for (const [net, prefix] of IPV6_BLOCKS) IPV6_SPECIAL.addSubnet(net, prefix, 'ipv6');

/** The eight 16-bit groups of an IPv6 address, in any notation (`::`, a trailing dotted quad). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** `::ffff:a.b.c.d` (IPv4-mapped, RFC 4291 2.5.5.2) is a.b.c.d to the kernel: the IPv4 address it carries. */
export function mappedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const g = ipv6Groups(address);
  if (g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return undefined;
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
}

export function isLoopback(address: string): boolean {
  const v4 = isIP(address) === 4 ? address : mappedIpv4(address);
  if (v4) return v4.startsWith('127.');
  return isIP(address) === 6 && ipv6Groups(address).every((g, i) => g === (i === 7 ? 1 : 0));
}

/** A special-purpose address git must not reach; loopback only counts when it is not allowed. */
export function isForbiddenAddress(address: string, allowLoopback: boolean): boolean {
  if (isIP(address) === 0) return true;
  if (isLoopback(address)) return !allowLoopback;
  const v4 = isIP(address) === 4 ? address : mappedIpv4(address);
  return v4 ? IPV4_SPECIAL.check(v4, 'ipv4') : IPV6_SPECIAL.check(address, 'ipv6');
}
