import { resolveCommit } from './commits.js';
import { CodeReadError, requireCount } from './errors.js';
import { grepMatches, type SearchMatch } from './grep-output.js';
import { validatePath } from './paths.js';
import { exitedWith, readFailure, readGit, stoppedBy, type ReadOptions } from './read-git.js';
import { GitProcessError } from '../git/run-git.js';

export interface SearchOptions extends ReadOptions {
  query: string;
  /** An extended regular expression (ERE); else the query is a fixed string. */
  regex?: boolean;
  caseSensitive?: boolean;
  /** Directories or files to search in (literal paths); default the whole tree. */
  paths?: string[];
  maxMatches: number;
  /** git is killed when the search has run this long. */
  timeoutMs: number;
}

export interface SearchResult {
  commit: string;
  matches: SearchMatch[];
  /** The match cap or the time cap stopped the search: there may be more. */
  truncated: boolean;
}

const MAX_QUERY_BYTES = 1024;

function checkQuery(query: string): void {
  // A newline would make git read two patterns; a NUL cannot reach argv.
  if (query === '' || /[\n\0]/.test(query) || Buffer.byteLength(query) > MAX_QUERY_BYTES)
    throw new CodeReadError('invalid_argument', 'The query must be one line of at most 1024 bytes');
}

/**
 * Matching lines of the commit's text files (`git grep` on the tree object, binary files
 * skipped), in tree order, one per line, up to maxMatches and for at most timeoutMs.
 */
export async function searchTree(repoDir: string, commit: string | undefined, o: SearchOptions): Promise<SearchResult> {
  checkQuery(o.query);
  const maxMatches = requireCount(o.maxMatches, 'maxMatches');
  const timeoutMs = requireCount(o.timeoutMs, 'timeoutMs');
  const paths = (o.paths ?? []).map(validatePath).filter((p) => p !== '');
  const oid = await resolveCommit(repoDir, commit, o);
  const timer = AbortSignal.timeout(timeoutMs);
  const matches: SearchMatch[] = [];
  const args = ['grep', '-n', '--column', '--null', '-I', '--no-color', o.regex ? '-E' : '-F'];
  if (!o.caseSensitive) args.push('-i');
  try {
    await readGit(repoDir, [...args, '-e', o.query, oid, '--', ...paths], {
      ...o,
      signal: o.signal ? AbortSignal.any([o.signal, timer]) : timer,
      maxStdoutBytes: Number.POSITIVE_INFINITY,
      onStdout: grepMatches(oid, (match) => {
        matches.push(match);
        return matches.length > maxMatches ? 'match cap' : undefined;
      }),
    });
  } catch (err) {
    const timedOut = err instanceof GitProcessError && err.reason === 'aborted' && timer.aborted && !o.signal?.aborted;
    if (stoppedBy(err, 'match cap') || timedOut)
      return { commit: oid, matches: matches.slice(0, maxMatches), truncated: true };
    // 1: nothing matched.
    if (exitedWith(err, 1)) return { commit: oid, matches: [], truncated: false };
    if (err instanceof GitProcessError && /^fatal: -e option, /m.test(err.stderr))
      throw new CodeReadError('invalid_argument', 'Not a valid extended regular expression');
    throw readFailure(err);
  }
  return { commit: oid, matches, truncated: false };
}
