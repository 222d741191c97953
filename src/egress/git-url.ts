import { isIP } from 'node:net';
import { isForbiddenAddress, isLoopback, mappedIpv4 } from './special-addresses.js';

/** Where git may connect: the egress settings both the API's validation and the worker's pinning apply. */
export interface EgressPolicy {
  /** GIT_ALLOW_LOOPBACK: loopback hosts are allowed, over http too and on any port (local servers, tests). */
  allowLoopback: boolean;
  /** GIT_ALLOWED_PORTS: the only ports git may connect to on any other host. */
  allowedPorts: readonly number[];
}

/** The policy of a service's settings (the API's and the worker's name the fields alike). */
export const egressPolicyOf = (settings: {
  allowLoopback: boolean;
  allowedGitPorts: readonly number[];
}): EgressPolicy => ({
  allowLoopback: settings.allowLoopback,
  allowedPorts: settings.allowedGitPorts,
});

/** The longest git_url accepted: no real repository URL comes near it, and git logs and errors stay bounded. */
export const MAX_GIT_URL_LENGTH = 2048;

/**
 * Names that never lead to a public Git host: the IANA Special-Use Domain Names registry
 * (RFC 6761 and later: localhost, local, test, example, invalid, onion, alt, home.arpa) and
 * `internal`, which ICANN reserved for private use (where cloud metadata lives:
 * metadata.google.internal). `arpa` holds reverse-DNS names only.
 */
export const SPECIAL_USE_DOMAINS = [
  'alt',
  'arpa',
  'example',
  'internal',
  'invalid',
  'local',
  'localhost',
  'onion',
  'test',
];

/** The port a URL without one connects to. */
export const defaultPort = (url: URL) => (url.protocol === 'https:' ? 443 : 80);
const topLevel = (name: string) => name.replace(/\.$/, '').split('.').at(-1)!;
const isLocalhostName = (name: string) => topLevel(name) === 'localhost';

/**
 * Why a Git URL is refused, or undefined when it is acceptable: `https://host[:port]/path`
 * only (http to loopback when GIT_ALLOW_LOOPBACK=true). The host must be written as the URL
 * parser writes it: lower-case ASCII (punycode for a non-ASCII name), IPv4 in dotted decimal,
 * IPv6 in its short form, so decimal, octal and hex addresses, IDN homographs of localhost and
 * other spellings that parsers read differently never get as far as a check. No credentials,
 * query, fragment, whitespace, control characters (plain or %-encoded) or backslashes; no special-purpose address,
 * special-use name or single-label name; a port from GIT_ALLOWED_PORTS (any port on loopback
 * when allowed). Host names are resolved and checked too, by pinRemote(), right before git connects.
 */
export function gitUrlProblem(value: string, policy: EgressPolicy): string | undefined {
  if (value.length > MAX_GIT_URL_LENGTH) return 'too long';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\s\u0000-\u001f\u007f\\]/.test(value)) return 'whitespace, control characters or backslashes';
  // git decodes %XX in places (credential and config URL matching): a control character encoded is one all the same.
  if (/%(?:[01][0-9a-f]|7f)/i.test(value)) return 'an encoded control character';
  const scheme = /^(https?):\/\/([^/?#]*)/.exec(value);
  if (!scheme) return 'not an http(s) URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL';
  }
  if (url.username || url.password || scheme[2]!.includes('@')) return 'credentials in the URL';
  if (url.search || url.hash || value.includes('?') || value.includes('#')) return 'a query or fragment';
  if (url.pathname.length <= 1) return 'no repository path';
  const written = scheme[2]!.toLowerCase();
  if (written !== url.host && written !== `${url.hostname}:${defaultPort(url)}`) return 'a host not in canonical form';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let loopback: boolean;
  if (isIP(host) !== 0) {
    if (mappedIpv4(host)) return 'an IPv4-mapped IPv6 address';
    if (isForbiddenAddress(host, policy.allowLoopback)) return 'a special-purpose address';
    loopback = isLoopback(host);
  } else {
    // No trailing dot: curl 7.37–7.81 strips it before resolving, so `host.`'s pin entry would never match (curl#8320).
    if (host.endsWith('.')) return 'a host name ending in a dot';
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host)) return 'an invalid host name';
    loopback = isLocalhostName(host);
    if (loopback && !policy.allowLoopback) return 'a loopback host';
    if (!loopback && (SPECIAL_USE_DOMAINS.includes(topLevel(host)) || !host.replace(/\.$/, '').includes('.')))
      return 'a special-use or single-label host name';
  }
  if (!(loopback && policy.allowLoopback) && !policy.allowedPorts.includes(Number(url.port || defaultPort(url))))
    return `a port other than ${policy.allowedPorts.join(', ')} (GIT_ALLOWED_PORTS)`;
  if (url.protocol === 'http:' && !(loopback && policy.allowLoopback)) return 'plain http (https only)';
  return undefined;
}

/** The design's message, with the rule the URL broke. */
export const invalidGitUrlMessage = (problem: string): string => `Invalid Git repository URL format: ${problem}`;
