import { simpleGit, type SimpleGitProgressEvent } from 'simple-git';
import { RepoError, type RepoErrorCode } from '../shared/errors.js';
import { gitEnvironment } from './git-env.js';

export interface CloneOptions {
  gitUrl: string;
  targetDir: string;
  token: string;
  allowHttp: boolean;
  /** Kill git when it has produced no output for this long. */
  idleTimeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (event: SimpleGitProgressEvent) => void;
}

/** Maps git's stderr to the closed error set; order matters (a 404 page can mention "Authentication"). */
const STDERR_PATTERNS: Array<[RegExp, RepoErrorCode, string]> = [
  [/repository '.*' not found|not found|HTTP 404|does not appear to be a git repository/i, 'repository_not_found', 'Repository not found'],
  [/Authentication failed|HTTP 401|HTTP 403|could not read Username|terminal prompts disabled/i, 'invalid_credentials', 'The access token was rejected by the Git server'],
  [/No space left on device/i, 'insufficient_storage', 'Not enough disk space to clone the repository'],
  [/unsupported protocol|transport '.*' not allowed|Protocol ".*" not supported/i, 'invalid_url', 'The Git URL uses a protocol that is not allowed'],
  [/Could not resolve host|Connection refused|Connection timed out|timed out|HTTP 5\d\d|early EOF|RPC failed|unexpected disconnect|SSL|Failed to connect/i, 'upstream_unavailable', 'The Git server could not be reached'],
];

export function classifyGitError(stderr: string): RepoError {
  for (const [pattern, code, message] of STDERR_PATTERNS) {
    if (pattern.test(stderr)) return new RepoError(code, message);
  }
  return new RepoError('git_failed', 'git clone failed');
}

/**
 * A full clone with a fixed argument vector: options first, then `--`, then the URL, so
 * nothing user-supplied can be read as an option.
 */
export async function cloneRepository(o: CloneOptions): Promise<void> {
  const env = gitEnvironment({ token: o.token, allowHttp: o.allowHttp });
  const git = simpleGit({
    allowEnvironment: Object.keys(env),
    // simple-git guards against environment and config a caller did not mean to pass. Here the
    // whole environment is fixed by gitEnvironment(), so these settings are deliberate: they
    // turn off the host's config files, credential helpers and hooks, and limit protocols.
    unsafe: {
      allowUnsafeConfigPaths: true,
      allowUnsafeConfigEnvCount: true,
      allowUnsafeCredentialHelper: true,
      allowUnsafeHooksPath: true,
      allowUnsafeProtocolOverride: true,
    },
    timeout: { block: o.idleTimeoutMs },
    ...(o.signal ? { abort: o.signal } : {}),
    ...(o.onProgress ? { progress: o.onProgress } : {}),
  }).env(env);
  try {
    await git.raw(['clone', '--progress', '--no-hardlinks', '--', o.gitUrl, o.targetDir]);
  } catch (err) {
    if (o.signal?.aborted) throw err;
    throw classifyGitError((err as Error).message);
  }
}
