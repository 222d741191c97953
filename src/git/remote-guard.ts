import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { RepoError } from '../shared/errors.js';
import { defaultPort, gitUrlProblem, invalidGitUrlMessage, type EgressPolicy } from '../egress/git-url.js';
import { isForbiddenAddress, isLoopback } from '../egress/special-addresses.js';

export interface PinnedRemote {
  url: string;
  host: string;
  port: number;
  /** The checked address git must connect to. */
  address: string;
  /**
   * `http.curloptResolve` entry: makes git connect to `address`, whatever DNS says later. None for
   * an IP literal, which nothing resolves (and curl cannot parse an entry naming an IPv6 one).
   */
  curlResolve?: string;
}

export type Lookup = (host: string) => Promise<Array<{ address: string }>>;
const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Checks a Git URL before any network call (gitUrlProblem's rules, again, where git is about to use
 * it) and every address its host resolves to. Returns the address to pin, so a DNS answer that
 * changes between this check and git's connect cannot redirect git.
 */
export async function pinRemote(
  gitUrl: string,
  policy: EgressPolicy,
  lookup: Lookup = systemLookup,
): Promise<PinnedRemote> {
  const problem = gitUrlProblem(gitUrl, policy);
  if (problem !== undefined) throw new RepoError('invalid_url', invalidGitUrlMessage(problem));
  const url = new URL(gitUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || defaultPort(url));
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
  if (addresses.some((a) => isForbiddenAddress(a, policy.allowLoopback))) {
    throw new RepoError('invalid_url', 'The Git host resolves to a private, loopback or reserved address');
  }
  const loopback = policy.allowLoopback && addresses.every(isLoopback);
  if (url.protocol !== 'https:' && !loopback) throw new RepoError('invalid_url', 'Only https Git URLs are allowed');
  if (!loopback && !policy.allowedPorts.includes(port))
    throw new RepoError('invalid_url', "The Git URL's port is not allowed (GIT_ALLOWED_PORTS)");
  const address = addresses[0]!;
  const bracketed = isIP(address) === 6 ? `[${address}]` : address;
  return { url: url.href, host, port, address, ...(isIP(host) ? {} : { curlResolve: `${host}:${port}:${bracketed}` }) };
}
