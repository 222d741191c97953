import type { EncryptedToken } from '../shared/connect-repository.js';
import { egressPolicyOf } from '../egress/git-url.js';
import { pinRemote } from '../git/remote-guard.js';
import type { GitProgress } from '../git/progress.js';
import { RepoError } from '../shared/errors.js';
import { limitBytesOf, type ActivityDeps } from './deps.js';
import { openToken } from './encrypt-token.js';
import { overBudget, type SizeStage, type Usage } from './size-budget.js';

/**
 * What a fetch into a sandbox (a clone, or a sync) needs: the pinned remote, the row's token
 * opened, and the size budget, polled through `measure`, with progress reported as it comes.
 */
export async function sandboxFetchAccess(
  deps: ActivityDeps,
  o: {
    gitUrl: string;
    storedToken: EncryptedToken & { projectId: string; repoId: string };
    measure: () => Promise<Usage>;
    onProgress: (g: GitProgress) => void;
    signal: AbortSignal;
  },
) {
  const { settings } = deps;
  return {
    remote: await pinRemote(o.gitUrl, egressPolicyOf(settings)),
    token: await openToken(deps, o.storedToken),
    allowHttp: settings.allowLoopback,
    idleTimeoutMs: settings.gitCloneTimeoutSeconds * 1000,
    signal: o.signal,
    limitBytes: limitBytesOf(settings),
    limitInodes: settings.maxRepoInodes,
    measure: o.measure,
    onProgress: o.onProgress,
    background: true,
  };
}

/** A `.catch` for git writing into a sandbox: too large is reported with what the directory holds now. */
export const measuredTooLarge =
  (stage: SizeStage, deps: ActivityDeps, measure: () => Promise<Usage>) =>
  async (err: unknown): Promise<never> => {
    if (err instanceof RepoError && err.code === 'repository_too_large')
      throw overBudget(stage, deps.settings, await measure(), err);
    throw err;
  };
