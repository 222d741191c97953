/**
 * The shape of a Git URL the API takes, as one regular expression for the OpenAPI document (and
 * checked by the API too, so the document and the API agree both ways). It is a subset of what
 * isAcceptableGitUrl accepts, which still runs after it (the address ranges a regex cannot say):
 * - https to a DNS name of at least two labels whose last starts with a letter (so never an IP
 *   literal, which the URL parser would read as an address), labels without `--` (so no `xn--`
 *   label the URL parser could refuse);
 * - with loopback allowed, also http or https to 127.0.0.0/8, localhost or [::1];
 * - an optional port 1-65535; no credentials, query or fragment;
 * - a path of segments not starting with `.` or `%`, so dot segments (`..`, `%2e`) never reduce it to `/`.
 */
const label = '[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*';
const topLabel = '[A-Za-z](?:[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)';
const publicHost = `(?:${label}\\.)+${topLabel}`;
const octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const loopbackHost = `(?:127(?:\\.${octet}){3}|localhost|\\[::1\\])`;
const port = '(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?';
const segment = "[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@%-]*";
const repoPath = `(?:/${segment})+/?`;

export function gitUrlPattern(allowLoopback: boolean): RegExp {
  const origin = allowLoopback ? `(?:https://${publicHost}|https?://${loopbackHost})` : `https://${publicHost}`;
  return new RegExp(`^${origin}${port}${repoPath}$`);
}
