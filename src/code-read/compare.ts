import { resolveCommit } from './commits.js';
import { requireCount } from './errors.js';
import { readFailure, readGit, stoppedBy, type ReadOptions } from './read-git.js';
import { cutText, KeptBytes } from './text.js';

export type ChangeStatus = 'added' | 'deleted' | 'modified' | 'renamed' | 'copied' | 'type_changed' | 'unmerged';

export interface ChangedFile {
  path: string;
  /** Where a renamed or copied file came from. */
  previousPath?: string;
  status: ChangeStatus;
  /** Lines added and deleted; null for a binary file. */
  additions: number | null;
  deletions: number | null;
}

export interface Comparison {
  base: string;
  head: string;
  files: ChangedFile[];
  /** The unified diff, when asked for, up to patchMaxBytes (cut at a line end). */
  patch?: { text: string; truncated: boolean };
}

const STATUSES: Record<string, ChangeStatus> = {
  A: 'added',
  D: 'deleted',
  M: 'modified',
  R: 'renamed',
  C: 'copied',
  T: 'type_changed',
  U: 'unmerged',
};

/** No external diff program and no textconv filter: git's own diff of the two trees, renames found. */
const DIFF = ['diff', '-M', '--no-ext-diff', '--no-textconv', '--no-color'];

/**
 * `diff --raw --numstat -z`: first every raw record (`:<modes> <oids> <status>\0<path>\0`, a
 * second path for renames and copies), then the numstat ones in the same order
 * (`<added>\t<deleted>\t<path>\0`, or `<added>\t<deleted>\t\0<from>\0<to>\0`).
 */
function parseChanges(out: string): ChangedFile[] {
  const tokens = out.split('\0');
  const files: ChangedFile[] = [];
  let at = 0;
  while (tokens[at]?.startsWith(':')) {
    const letter = tokens[at]!.split(' ').at(-1)!.charAt(0);
    const moved = letter === 'R' || letter === 'C';
    const file: ChangedFile = {
      path: tokens[at + 1]!,
      status: STATUSES[letter] ?? 'modified',
      additions: null,
      deletions: null,
    };
    if (moved) Object.assign(file, { previousPath: tokens[at + 1]!, path: tokens[at + 2]! });
    files.push(file);
    at += moved ? 3 : 2;
  }
  for (const file of files) {
    const [added = '-', deleted = '-', path = ''] = (tokens[at] ?? '').split('\t');
    at += path === '' ? 3 : 1;
    if (added !== '-') file.additions = Number(added);
    if (deleted !== '-') file.deletions = Number(deleted);
  }
  return files;
}

/** The files that differ from `base` to `head` (the two trees, not a merge base), and optionally the patch. */
export async function compare(
  repoDir: string,
  base: string,
  head: string,
  o: ReadOptions & { patchMaxBytes?: number } = {},
): Promise<Comparison> {
  const patchMaxBytes = o.patchMaxBytes === undefined ? undefined : requireCount(o.patchMaxBytes, 'patchMaxBytes');
  const [from, to] = await Promise.all([resolveCommit(repoDir, base, o), resolveCommit(repoDir, head, o)]);
  let files: ChangedFile[];
  try {
    files = parseChanges((await readGit(repoDir, [...DIFF, '--raw', '--numstat', '-z', from, to, '--'], o)).toString());
  } catch (err) {
    throw readFailure(err);
  }
  if (patchMaxBytes === undefined) return { base: from, head: to, files };
  return { base: from, head: to, files, patch: await patchOf(repoDir, from, to, patchMaxBytes, o) };
}

async function patchOf(repoDir: string, from: string, to: string, maxBytes: number, o: ReadOptions) {
  const kept = new KeptBytes(maxBytes);
  try {
    await readGit(repoDir, [...DIFF, '--patch', from, to, '--'], {
      ...o,
      maxStdoutBytes: Number.POSITIVE_INFINITY,
      onStdout: (chunk) => (kept.add(chunk) ? 'patch cap' : undefined),
    });
  } catch (err) {
    if (!stoppedBy(err, 'patch cap')) throw readFailure(err);
  }
  return { text: cutText(kept.bytes(), maxBytes).toString(), truncated: kept.full() };
}
