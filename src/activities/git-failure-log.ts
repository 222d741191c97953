import type { Logger } from '../config/logger.js';
import { GitProcessError } from '../git/run-git.js';
import { stderrTail } from '../git/stderr-tail.js';

/** The git process error under a domain error (its `cause`), if git is what failed. */
function gitCauseOf(err: unknown): GitProcessError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (e instanceof GitProcessError) return e;
  }
  return undefined;
}

/**
 * A rethrowing `.catch` handler for git activities: the user sees only the classified code and
 * its safe message, so git's own words go to the log, tied to the repository and request.
 * A cancelled git says nothing worth a warning.
 */
export function logGitFailure(logger: Logger, ids: { repoId: string; requestId?: string }) {
  return (err: unknown): never => {
    const git = gitCauseOf(err);
    if (git && git.reason !== 'aborted') {
      logger.warn(
        {
          ...ids,
          code: err instanceof Error && 'code' in err ? err.code : undefined,
          gitReason: git.reason,
          exitCode: git.exitCode,
          signal: git.signal,
          stderrTail: stderrTail(git.stderr),
        },
        'git failed',
      );
    }
    throw err;
  };
}
