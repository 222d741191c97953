import { RepoError, type RepoErrorCode } from '../shared/errors.js';

/** Maps git's stderr to the closed error set; order matters (a 404 page can mention "Authentication"). */
const STDERR_PATTERNS: Array<[RegExp, RepoErrorCode, string]> = [
  [/repository '.*' not found|not found|HTTP 404|returned error: 404|does not appear to be a git repository/i, 'repository_not_found', 'Repository not found'],
  [/Authentication failed|HTTP 401|HTTP 403|returned error: 40[13]|could not read Username|terminal prompts disabled/i, 'invalid_credentials', 'The access token was rejected by the Git server'],
  [/No space left on device/i, 'insufficient_storage', 'Not enough disk space to clone the repository'],
  [/unsupported protocol|transport '.*' not allowed|Protocol ".*" not supported/i, 'invalid_url', 'The Git URL uses a protocol that is not allowed'],
  [/Could not resolve host|Connection refused|Connection timed out|timed out|HTTP 5\d\d|returned error: 5\d\d|early EOF|RPC failed|unexpected disconnect|SSL|Failed to connect/i, 'upstream_unavailable', 'The Git server could not be reached'],
];

export function classifyGitError(stderr: string): RepoError {
  for (const [pattern, code, message] of STDERR_PATTERNS) {
    if (pattern.test(stderr)) return new RepoError(code, message);
  }
  return new RepoError('git_failed', 'git clone failed');
}
