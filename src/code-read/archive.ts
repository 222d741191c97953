import type { Readable } from 'node:stream';
import { resolveCommit } from './commits.js';
import { CodeReadError } from './errors.js';
import { validatePath } from './paths.js';
import { readGitStream, type ReadOptions } from './read-git.js';
import { entriesAt } from './tree.js';

export type ArchiveFormat = 'tar.gz' | 'zip';

export interface ArchiveOptions extends ReadOptions {
  /** Directories or files to archive (literal paths); default the whole tree. */
  paths?: string[];
  format: ArchiveFormat;
}

/**
 * `git archive` of the commit (its tree as git exports it, .gitattributes' export-ignore and
 * export-subst applied), as a stream the caller caps: destroying it stops git. A path the
 * commit lacks is path_not_found before anything is sent.
 */
export async function archive(
  repoDir: string,
  commit: string | undefined,
  o: ArchiveOptions,
): Promise<{ commit: string; stream: Readable }> {
  if (o.format !== 'tar.gz' && o.format !== 'zip') throw new CodeReadError('invalid_argument', 'Not an archive format');
  const paths = (o.paths ?? []).map(validatePath);
  const oid = await resolveCommit(repoDir, commit, o);
  const within = paths.includes('') ? [] : [...new Set(paths)];
  if (within.length > 0) {
    const found = await entriesAt(repoDir, oid, within, o);
    if (within.some((p) => !found.has(p))) throw new CodeReadError('path_not_found', 'No such path in this commit');
  }
  return { commit: oid, stream: readGitStream(repoDir, ['archive', `--format=${o.format}`, oid, '--', ...within], o) };
}
