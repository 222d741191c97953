import { SPECIAL_USE_DOMAINS, type EgressPolicy } from '../egress/git-url.js';

/**
 * The shape of a Git URL the API takes, as one regular expression for the OpenAPI document (and
 * checked by the API too, so the document and the API agree both ways). It is a subset of what
 * gitUrlProblem accepts, which still runs first (the address ranges a regex cannot say):
 * - https to a lower-case DNS name of at least two labels whose last starts with a letter and is
 *   not a special-use name (so never an IP literal, which the URL parser would read as an
 *   address), labels without `--` (so no `xn--` label the URL parser could refuse);
 * - with loopback allowed, also http or https to 127.0.0.0/8, localhost or [::1], on any port;
 * - else a port of GIT_ALLOWED_PORTS, or none; no credentials, query or fragment;
 * - a path of segments not starting with `.` or `%`, so dot segments (`..`, `%2e`) never reduce
 *   it to `/`, and no %-encoded control character.
 */
const label = '[a-z0-9]+(?:-[a-z0-9]+)*';
const topLabel = `(?!(?:${SPECIAL_USE_DOMAINS.join('|')})[:/])[a-z](?:[a-z0-9]*(?:-[a-z0-9]+)*)`;
const publicHost = `(?:${label}\\.)+${topLabel}`;
const octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const loopbackHost = `(?:127(?:\\.${octet}){3}|localhost|\\[::1\\])`;
const anyPort = '(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?';
const encoded = '%(?:[2-6][0-9A-Fa-f]|7[0-9A-Ea-e]|[89A-Fa-f][0-9A-Fa-f])';
const segment = `[A-Za-z0-9_~!$&'()*+,;=:@-](?:[A-Za-z0-9._~!$&'()*+,;=:@-]|${encoded})*`;
const repoPath = `(?:/${segment})+/?`;

export function gitUrlPattern(policy: EgressPolicy): RegExp {
  const ports = `(?::(?:${policy.allowedPorts.join('|')}))?`;
  const publicOrigin = `https://${publicHost}${ports}`;
  const origin = policy.allowLoopback ? `(?:${publicOrigin}|https?://${loopbackHost}${anyPort})` : publicOrigin;
  return new RegExp(`^${origin}${repoPath}$`);
}
