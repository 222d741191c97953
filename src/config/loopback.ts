/** Names of this machine that no other host can answer for. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether `host` (a HOST setting or a URL's hostname) names only this machine. */
export const isLoopbackHost = (host: string): boolean => LOOPBACK_NAMES.has(host.toLowerCase());

/** Whether `origin` is exactly `http(s)://<loopback name>[:port]`: a page served by this machine. */
export function isLoopbackOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.origin === origin &&
    isLoopbackHost(url.hostname.replace(/^\[(.*)\]$/, '$1'))
  );
}

/** A HOST setting as a URL names it for a client on this machine: the wildcard becomes loopback, IPv6 is bracketed. */
export const hostForUrl = (host: string): string =>
  host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
