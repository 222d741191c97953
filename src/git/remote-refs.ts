import { RepoError } from '../shared/errors.js';

/** What `git ls-remote --symref` says a repository holds. */
export interface RemoteRefs {
  /** How many refs it lists (HEAD included, as before symrefs were asked for). */
  count: number;
  /** The branch the remote's HEAD points at; absent when HEAD is detached or the server does not say. */
  defaultBranch?: string;
  heads: Set<string>;
  tags: Set<string>;
}

/** A ref to check out, resolved against the remote: a branch, or a tag (checked out detached). */
export interface ResolvedRef {
  name: string;
  kind: 'branch' | 'tag';
}

const HEADS = 'refs/heads/';
const TAGS = 'refs/tags/';

export function parseLsRemote(out: string): RemoteRefs {
  const refs: RemoteRefs = { count: 0, heads: new Set(), tags: new Set() };
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [left = '', name = ''] = line.split('\t');
    if (left.startsWith('ref: ')) {
      const target = left.slice('ref: '.length);
      if (name === 'HEAD' && target.startsWith(HEADS)) refs.defaultBranch = target.slice(HEADS.length);
      continue;
    }
    refs.count += 1;
    if (name.startsWith(HEADS)) refs.heads.add(name.slice(HEADS.length));
    else if (name.startsWith(TAGS)) refs.tags.add(name.slice(TAGS.length).replace(/\^\{\}$/, ''));
  }
  return refs;
}

/**
 * The ref a connect asked for, as git clone's `--branch` reads it (a branch before a tag of the
 * same name), or the default branch when none was asked for. Undefined for a repository with no
 * default branch to take (empty, or a detached HEAD): the clone then takes what HEAD is.
 */
export function resolveRef(refs: RemoteRefs, requested: string | undefined): ResolvedRef | undefined {
  if (requested === undefined)
    return refs.defaultBranch === undefined ? undefined : { name: refs.defaultBranch, kind: 'branch' };
  if (refs.heads.has(requested)) return { name: requested, kind: 'branch' };
  if (refs.tags.has(requested)) return { name: requested, kind: 'tag' };
  throw new RepoError('ref_not_found', `The repository has no branch or tag named '${requested}'`);
}
