/**
 * The design's masking formats, applied by the logger to everything it writes:
 * - Git tokens and other secrets: first 4 + last 4 characters (`ghp_1234...5678`), `***` when short;
 * - JWTs: the header's start only (`eyJ0eXAi...***`);
 * - URLs: every query value (`https://api.com?token=***`);
 * - objects (request bodies included): secret-named fields at any depth.
 */

/** Field names whose values are secrets, wherever they appear. */
const SECRET_KEY =
  /(^|_|-|\b)(access_?token|token|secret|password|passwd|authorization|cookie|api_?key|private_?key|jwt)$|^(database_?url|master_?encryption_?key|jwt_?secret)$|[a-z](Token|Secret|Password)$/i;

const JWT = /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;
/** Token formats of the big Git hosts (GitHub classic and fine-grained, GitLab). */
const GIT_TOKEN = /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})\b/g;
const URL_QUERY_VALUE = /([?&][^=&#\s"']+=)[^&#\s"']*/g;
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s"']+@/gi;

export function maskSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length <= 8) return '***';
  return `${value.slice(0, 4)}...${value.slice(-4)}`;
}

export const maskJwt = (jwt: string): string => `${jwt.slice(0, 8)}...***`;

/** A value known to be secret (its field says so). */
function maskSecretValue(value: string): string {
  const scheme = /^(Bearer|Basic|token)\s+(.*)$/i.exec(value);
  if (scheme) return `${scheme[1]} ${scheme[1]!.toLowerCase() === 'basic' ? '***' : maskSecretValue(scheme[2]!)}`;
  if (/^eyJ[A-Za-z0-9_-]+\./.test(value)) return maskJwt(value);
  return maskSecret(value);
}

/** Any string: secrets that can be recognised by their shape are masked where they stand. */
export function maskString(value: string): string {
  return value
    .replace(JWT, maskJwt)
    .replace(GIT_TOKEN, (t) => maskSecret(t))
    .replace(URL_USERINFO, '$1***@')
    .replace(URL_QUERY_VALUE, '$1***');
}

export function maskDeep(value: unknown, secret = false, seen = new WeakSet<object>(), depth = 0): unknown {
  if (typeof value === 'string') return secret ? maskSecretValue(value) : maskString(value);
  if (value === null || typeof value !== 'object') return secret && value !== undefined ? '***' : value;
  if (seen.has(value) || depth > 10) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    return { type: value.name, message: maskString(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, secret, seen, depth + 1));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = maskDeep(v, secret || SECRET_KEY.test(key), seen, depth + 1);
  return out;
}
