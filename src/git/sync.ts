import { gitEnvironment } from './git-env.js';
import { fetchUnderBudget, mapFailure, sizeWatch, type Budgeted, type DeepenOptions } from './operations.js';
import { writeVerbatimAttributes } from './checkout.js';
import { isRefName } from '../shared/ref-name.js';
import { runGit } from './run-git.js';
import { RepoError } from '../shared/errors.js';

/** Where a sync's fetch puts the ref's new tip, until it is checked out (or thrown away). */
export const SYNC_REF = 'refs/connector/sync';

export interface FetchRefOptions extends DeepenOptions {
  /** The branch or tag followed; `HEAD` for rows recorded before refs were. */
  ref: string;
}

/**
 * Fetches the new commits of one ref into an existing full clone, as one pack of only what the
 * clone lacks (its refs are the haves), into SYNC_REF: nothing checked out or followed changes.
 */
export async function fetchRef(o: FetchRefOptions): Promise<void> {
  if (o.ref !== 'HEAD' && !isRefName(o.ref)) throw new RepoError('ref_not_found', 'Not a branch or tag name');
  await fetchUnderBudget(
    [
      '-C',
      o.repoDir,
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      '--no-write-fetch-head',
      '--progress',
      '--',
      o.remote.url,
      `+${await qualifiedRef(o.repoDir, o.ref, o.idleTimeoutMs)}:${SYNC_REF}`,
    ],
    o,
    o.packBudgetBytes,
  );
}

/**
 * The ref as the clone follows it: the branch it has checked out, else the tag (detached).
 * Unqualified, git would prefer a tag of the same name over the branch the clone checked out.
 */
async function qualifiedRef(repoDir: string, ref: string, idleTimeoutMs: number): Promise<string> {
  if (ref === 'HEAD') return ref;
  const branch = await runGit({
    args: ['-C', repoDir, 'symbolic-ref', '--quiet', 'HEAD'],
    env: gitEnvironment({ allowHttp: false }),
    idleTimeoutMs,
  }).then(
    (out) => out.trim(),
    () => null,
  );
  return branch === `refs/heads/${ref}` ? branch : `refs/tags/${ref}`;
}

/**
 * Moves what is checked out (the branch, or a detached HEAD) to `commit`: files it changed are
 * rewritten, files it dropped removed; verbatim, as checkoutHead writes them.
 */
export async function checkoutCommit(
  repoDir: string,
  commit: string,
  o: Budgeted & { idleTimeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  await writeVerbatimAttributes(repoDir);
  try {
    await runGit({
      args: ['-C', repoDir, 'reset', '--quiet', '--hard', '--no-recurse-submodules', commit],
      env: gitEnvironment({ allowHttp: false }),
      idleTimeoutMs: o.idleTimeoutMs,
      signal: o.signal,
      maxFileBytes: o.limitBytes,
      // A file past the cap fails the reset as too large (EFBIG), not a silent SIGXFSZ death.
      reportFileSizeCap: true,
      watch: sizeWatch(o, 1000),
    });
  } catch (err) {
    throw mapFailure(err);
  }
}

/** Removes a ref (a no-op when it is absent). */
export async function deleteRef(repoDir: string, ref: string, idleTimeoutMs: number): Promise<void> {
  await runGit({
    args: ['-C', repoDir, 'update-ref', '-d', ref],
    env: gitEnvironment({ allowHttp: false }),
    idleTimeoutMs,
  }).catch((err: unknown) => {
    throw mapFailure(err);
  });
}
