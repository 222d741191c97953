import { isRefName } from '../shared/ref-name.js';
import { CodeReadError, requireCount } from './errors.js';
import { exitedWith, readFailure, readGit, type ReadOptions } from './read-git.js';

/** An abbreviated or full commit id (git needs at least 4 digits), SHA-1's or SHA-256's. */
const OID_PREFIX = /^[0-9a-fA-F]{4,64}$/;

/**
 * The full id of the commit `commit` names (default HEAD): an oid prefix or a branch or tag name
 * (isRefName: never `-…`, no revision syntax such as `~` or `@{`). Anything else is refused
 * before git sees it; a name the clone does not hold, or that names no commit, is commit_not_found.
 */
export async function resolveCommit(repoDir: string, commit = 'HEAD', o: ReadOptions = {}): Promise<string> {
  if (!OID_PREFIX.test(commit) && !isRefName(commit))
    throw new CodeReadError('invalid_argument', 'Not a commit id or a branch or tag name');
  try {
    const out = await readGit(
      repoDir,
      ['rev-parse', '--verify', '--quiet', '--end-of-options', `${commit}^{commit}`],
      o,
    );
    return out.toString().trim();
  } catch (err) {
    if (exitedWith(err, 1)) throw new CodeReadError('commit_not_found', 'The repository holds no such commit');
    throw readFailure(err);
  }
}

export interface Signature {
  name: string;
  email: string;
  /** ISO 8601, in the signer's own time zone. */
  date: string;
}

export interface CommitSummary {
  oid: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  subject: string;
}

export interface ListCommitsOptions extends ReadOptions {
  /** Where the history starts (default HEAD); a cursor carries its own. */
  from?: string;
  limit: number;
  cursor?: string;
}

export interface CommitPage {
  commits: CommitSummary[];
  /** Null on the last page. */
  nextCursor: string | null;
}

// Names, emails and subjects never hold a NUL: git keeps them as C strings.
const FIELDS = ['%H', '%P', '%an', '%ae', '%aI', '%cn', '%ce', '%cI', '%s'];

/** A cursor names the resolved start and how many commits came before, so pages stay put while HEAD moves. */
const CURSOR = /^([0-9a-f]{40}|[0-9a-f]{64})\.(\d{1,9})$/;
const encodeCursor = (start: string, skip: number) => Buffer.from(`${start}.${skip}`).toString('base64url');

function decodeCursor(cursor: string): { start: string; skip: number } {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new CodeReadError('invalid_argument', 'Not a cursor of this listing');
  return { start: match[1]!, skip: Number(match[2]) };
}

function commitOf(fields: string[]): CommitSummary {
  const [oid = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', subject = ''] = fields;
  return {
    oid,
    parents: parents ? parents.split(' ') : [],
    author: { name: an, email: ae, date: ad },
    committer: { name: cn, email: ce, date: cd },
    subject,
  };
}

/** The history reachable from `from`, newest first (git log's order), a page at a time. */
export async function listCommits(repoDir: string, o: ListCommitsOptions): Promise<CommitPage> {
  const limit = requireCount(o.limit, 'limit');
  const page = o.cursor === undefined ? { start: o.from ?? 'HEAD', skip: 0 } : decodeCursor(o.cursor);
  const start = await resolveCommit(repoDir, page.start, o);
  let out: Buffer;
  try {
    out = await readGit(
      repoDir,
      [
        'log',
        '-z',
        '--no-use-mailmap',
        `--format=${FIELDS.join('%x00')}`,
        `--skip=${page.skip}`,
        `--max-count=${limit + 1}`,
        start,
        '--',
      ],
      o,
    );
  } catch (err) {
    throw readFailure(err);
  }
  const fields = out.toString().split('\0');
  const commits: CommitSummary[] = [];
  for (let i = 0; i + FIELDS.length <= fields.length; i += FIELDS.length)
    commits.push(commitOf(fields.slice(i, i + FIELDS.length)));
  return {
    commits: commits.slice(0, limit),
    nextCursor: commits.length > limit ? encodeCursor(start, page.skip + limit) : null,
  };
}
