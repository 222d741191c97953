import { RepoError, type RepoErrorCode } from '../shared/errors.js';
import type { GitProcessError } from './run-git.js';

/**
 * Throttling, as far as git lets us see it. git prints the status line and a text/plain body (as
 * `remote: …` lines), never the response headers: `Retry-After`, `X-RateLimit-Remaining` and
 * `X-RateLimit-Reset` are invisible here, so no reset time is known and the retry policy's
 * backoff paces the next attempt. A 403 counts only when its body speaks of a rate limit;
 * otherwise it is a refused token.
 */
const HTTP_429 = /returned error: 429|HTTP 429/i;
const HTTP_403 = /returned error: 403|HTTP 403/i;
const RATE_LIMIT_TEXT = /rate.?limit|too many requests/i;
const isRateLimited = (stderr: string) =>
  HTTP_429.test(stderr) || (HTTP_403.test(stderr) && RATE_LIMIT_TEXT.test(stderr));

/**
 * Maps git's stderr to the closed error set; order matters (a 404 page can mention
 * "Authentication", a 429 is not a transport failure). The transport row covers a connection
 * refused, dropped or reset mid-transfer (curl 18/56, early EOF, a truncated pack), TLS and
 * HTTP/2 stream errors: all worth another attempt.
 */
const STDERR_PATTERNS: Array<[(stderr: string) => boolean, RepoErrorCode, string]> = [
  [isRateLimited, 'rate_limited', 'The Git server is rate limiting requests; try again later'],
  [
    matches(/repository '.*' not found|not found|HTTP 404|returned error: 404|does not appear to be a git repository/i),
    'repository_not_found',
    'Repository not found',
  ],
  [
    matches(
      /Authentication failed|HTTP 401|HTTP 403|returned error: 40[13]|could not read Username|terminal prompts disabled/i,
    ),
    'invalid_credentials',
    'The access token was rejected by the Git server',
  ],
  [matches(/No space left on device/i), 'insufficient_storage', 'Not enough disk space to clone the repository'],
  [
    matches(/unsupported protocol|transport '.*' not allowed|Protocol ".*" not supported/i),
    'invalid_url',
    'The Git URL uses a protocol that is not allowed',
  ],
  [
    matches(
      /Could not resolve host|Connection refused|Connection timed out|timed out|HTTP 5\d\d|returned error: 5\d\d|early EOF|RPC failed|unexpected disconnect|remote end hung up|Connection reset|transfer closed|Recv failure|Send failure|Empty reply|premature end of pack|HTTP\/2 stream|SSL|TLS|Failed to connect/i,
    ),
    'upstream_unavailable',
    'The Git server could not be reached',
  ],
];

function matches(pattern: RegExp) {
  return (stderr: string) => pattern.test(stderr);
}

export function classifyGitError(stderr: string): RepoError {
  for (const [test, code, message] of STDERR_PATTERNS) {
    if (test(stderr)) return new RepoError(code, message);
  }
  return new RepoError('git_failed', 'git clone failed');
}

/**
 * Proof that the `prlimit --fsize` cap stopped a write. The kernel refuses a write past
 * RLIMIT_FSIZE with SIGXFSZ, or with EFBIG when that signal is ignored:
 * - git itself killed by SIGXFSZ (a checkout, where git writes the files);
 * - a git process reporting EFBIG ("File too large"): run-git ignores SIGXFSZ for fetches,
 *   because their writer is index-pack, whose death by signal only fetch-pack sees, and
 *   fetch-pack reports it as "invalid index-pack output", word for word what it says when the
 *   connection drops mid-pack. That line alone proves nothing;
 * - git reporting a child "died of signal 25" (SIGXFSZ on Linux).
 * Measuring the pack against the cap afterwards is no proof either: a failed clone deletes
 * its directory before it exits, so nothing is left to measure. Lines git relays from the
 * server start with `remote:` and never count.
 */
const FILE_TOO_LARGE = /^(?:fatal|error): .*File too large$|^error: .* died of signal 25$/m;

export const hitFileSizeCap = (err: GitProcessError): boolean =>
  err.signal === 'SIGXFSZ' || FILE_TOO_LARGE.test(err.stderr);

/** A failed git run as a domain error; the process error stays its cause, for the log and nothing else. */
export function classifyGitFailure(
  err: GitProcessError,
  limitReason = 'The repository exceeds the size limit',
): RepoError {
  const classified =
    err.reason === 'watch'
      ? new RepoError('repository_too_large', err.watchReason ?? limitReason)
      : err.reason === 'timeout'
        ? new RepoError('upstream_unavailable', 'The Git server stopped responding')
        : // A listing of refs or files past GIT_MAX_OUTPUT_MB: the same answer however often asked, and no
          // size to report in a 413's body (a few bytes a ref), so an unusable answer from upstream.
          err.reason === 'output'
          ? new RepoError(
              'git_failed',
              'The repository lists more refs or files than this service reads (GIT_MAX_OUTPUT_MB)',
            )
          : hitFileSizeCap(err)
            ? new RepoError('repository_too_large', limitReason)
            : classifyGitError(err.stderr);
  return new RepoError(classified.code, classified.message, classified.details, { cause: err });
}
