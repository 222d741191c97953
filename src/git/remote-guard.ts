import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RepoError } from '../shared/errors.js';

/** Addresses git must never be pointed at: the service's own network and cloud metadata. */
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['fc00::', 7], // unique local, incl. fd00:ec2::254 metadata
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 (embeds IPv4)
  ['2002::', 16], // 6to4 (embeds IPv4)
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** `::ffff:10.0.0.1` is 10.0.0.1 to the kernel: judge the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export function isLoopback(address: string): boolean {
  const { address: a, family } = normalise(address);
  return LOOPBACK.check(a, family);
}

export function isForbiddenAddress(address: string, allowLoopback: boolean): boolean {
  const { address: a, family } = normalise(address);
  if (LOOPBACK.check(a, family)) return !allowLoopback;
  return FORBIDDEN.check(a, family);
}

/**
 * `https://host[:port]/path` only (http for loopback hosts when GIT_ALLOW_LOOPBACK=true): no
 * credentials, query, fragment, whitespace or control characters, and no IP literal in a
 * private, loopback, link-local, CGNAT or metadata range in any notation (the URL parser turns
 * decimal, octal, hex and IPv4-mapped forms into the canonical address first). Host names are
 * resolved and checked too, by pinRemote(), right before git connects.
 */
export function isAcceptableGitUrl(value: string, allowLoopback: boolean): boolean {
  if (/[\s\u0000-\u001f\u007f]/.test(value) || !/^https?:\/\//i.test(value)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password || url.search || url.hash || value.includes('?') || value.includes('#')) return false;
  if (url.pathname.length <= 1) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) !== 0 && isLoopback(host));
  if (isIP(host) !== 0 && isForbiddenAddress(host, allowLoopback)) return false;
  if (host === 'localhost' && !allowLoopback) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && allowLoopback && loopback;
}

export interface PinnedRemote {
  url: string;
  host: string;
  port: number;
  /** The checked address git must connect to. */
  address: string;
  /** `http.curloptResolve` entry: makes git connect to `address`, whatever DNS says later. */
  curlResolve: string;
}

export type Lookup = (host: string) => Promise<Array<{ address: string }>>;
const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Checks a Git URL before any network call: https only (http only to loopback when allowed),
 * no credentials in it, and every address its host resolves to public. Returns the address to
 * pin, so a DNS answer that changes between this check and git's connect cannot redirect git.
 */
export async function pinRemote(gitUrl: string, allowLoopback: boolean, lookup: Lookup = systemLookup): Promise<PinnedRemote> {
  // The same rules the API validated the URL with: checked again here, where git is about to use it.
  if (!isAcceptableGitUrl(gitUrl, allowLoopback)) throw new RepoError('invalid_url', 'Invalid Git repository URL format');
  const url = new URL(gitUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host)).map((a) => a.address);
    } catch {
      throw new RepoError('upstream_unavailable', 'The Git host name could not be resolved');
    }
  }
  if (addresses.length === 0) throw new RepoError('upstream_unavailable', 'The Git host name could not be resolved');
  if (addresses.some((a) => isForbiddenAddress(a, allowLoopback))) {
    throw new RepoError('invalid_url', 'The Git host resolves to a private, loopback or reserved address');
  }
  const plainHttpAllowed = url.protocol === 'http:' && allowLoopback && addresses.every(isLoopback);
  if (url.protocol !== 'https:' && !plainHttpAllowed) {
    throw new RepoError('invalid_url', 'Only https Git URLs are allowed');
  }
  const address = addresses[0]!;
  const bracketed = isIP(address) === 6 ? `[${address}]` : address;
  return { url: url.href, host, port, address, curlResolve: `${host}:${port}:${bracketed}` };
}
