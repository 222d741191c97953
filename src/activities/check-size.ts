import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { fetchRepository, lsRemote } from '../git/operations.js';
import { egressPolicyOf } from '../egress/git-url.js';
import { pinRemote } from '../git/remote-guard.js';
import { resolveRef } from '../git/remote-refs.js';
import { bytesToMb, probePath, removeSandbox, usageOf } from '../sandbox/sandbox.js';
import { metrics, timed } from '../observability/metrics.js';
import { RepoError } from '../shared/errors.js';
import { overBudget } from './size-budget.js';
import { checkTreeBudget } from './tree-budget.js';
import { ensureFreeSpace, limitBytesOf, requiredFreeOf, type ActivityDeps } from './deps.js';
import type { EncryptedToken } from '../shared/connect-repository.js';
import { openToken } from './encrypt-token.js';
import { logGitFailure } from './git-failure-log.js';

export interface CheckSizeInput extends EncryptedToken {
  gitUrl: string;
  projectId: string;
  repoId: string;
  /** For the log only; optional. */
  requestId?: string;
  /** Admission's probe: kept on success (`probePath`), for a clone on this host to deepen. */
  keepForClone?: boolean;
  /** The branch or tag asked for; absent: the remote's default branch. */
  ref?: string;
}

export interface SizeCheck {
  /** Bytes on disk of a checkout of the tip alone (working tree + .git): a proven lower bound. */
  tipSizeMb: number;
  /** The host queue of the worker that kept the probe for the clone (absent when nothing was kept). */
  probeHostTaskQueue?: string;
  /** tipSizeMb × SIZE_ESTIMATE_FACTOR: reported to the caller, never a reason to reject. */
  estimatedSizeMb: number;
  refs: number;
  /** The branch or tag probed (the default branch's name when none was asked for); absent for a repository without one. */
  ref?: string;
}

const PROBE_HEARTBEAT_INTERVAL_MS = 2000;

/**
 * Authenticates and looks the repository up (`ls-remote`), then fetches the tip alone into a
 * probe directory, killed the moment it passes the limit. The probe proves a repository too
 * large when its tip alone exceeds the limit; it cannot prove one small enough (history is
 * not fetched), so that is left to the clone's enforced budget.
 */
export function createCheckRepositorySize(deps: ActivityDeps) {
  const { settings } = deps;
  return (input: CheckSizeInput): Promise<SizeCheck> =>
    timed(metrics.sizeCheckDuration, 'outcome', () => checkRepositorySize(input)).catch(
      logGitFailure(deps.logger, { repoId: input.repoId, requestId: input.requestId }),
    );
  async function checkRepositorySize(input: CheckSizeInput): Promise<SizeCheck> {
    const ctx = Context.current();
    // Alive, even while git is silent; a cancellation comes back the same way.
    const beat = setInterval(() => ctx.heartbeat(), PROBE_HEARTBEAT_INTERVAL_MS);
    try {
      return await probe(ctx, input);
    } finally {
      clearInterval(beat);
    }
  }
  async function probe(ctx: Context, input: CheckSizeInput): Promise<SizeCheck> {
    const limitBytes = limitBytesOf(settings);
    const remote = await pinRemote(input.gitUrl, egressPolicyOf(settings));
    const access = {
      remote,
      token: await openToken(deps, input),
      allowHttp: settings.allowLoopback,
      idleTimeoutMs: settings.gitCloneTimeoutSeconds * 1000,
      signal: ctx.cancellationSignal,
      maxOutputBytes: settings.maxGitOutputBytes,
    };
    const remoteRefs = await lsRemote(access);
    const refs = remoteRefs.count;
    // An unknown ref is refused here, before anything is fetched or persisted.
    const ref = resolveRef(remoteRefs, input.ref)?.name;
    await ensureFreeSpace(settings.sandboxBasePath, requiredFreeOf(settings));
    if (refs === 0) return { tipSizeMb: 0, estimatedSizeMb: 0, refs };

    // Admission's probe is kept for the clone on this host to deepen, instead of fetching everything again.
    const probeDir = probePath(
      settings.sandboxBasePath,
      input.repoId,
      input.keepForClone ? undefined : ctx.info.attempt,
    );
    await removeSandbox(probeDir);
    await mkdir(path.dirname(probeDir), { recursive: true, mode: 0o750 });
    let kept = false;
    let measured = { bytes: 0, inodes: 0 };
    const measure = async () => (measured = await usageOf(probeDir));
    try {
      await fetchRepository({
        ...access,
        targetDir: probeDir,
        shallow: true,
        ref,
        limitBytes,
        limitInodes: settings.maxRepoInodes,
        measure,
      }).catch((err: unknown) => {
        if (err instanceof RepoError && err.code === 'repository_too_large') {
          throw overBudget('size_check', settings, measured, err);
        }
        throw err;
      });
      // The tip alone, checked out, would pass a budget: the clone would refuse it too.
      const tip = await checkTreeBudget('size_check', settings, probeDir, await measure());
      const tipSizeMb = bytesToMb(tip.bytes);
      kept = Boolean(input.keepForClone);
      return {
        tipSizeMb,
        estimatedSizeMb: Math.round(tipSizeMb * settings.sizeEstimateFactor * 100) / 100,
        refs,
        ...(ref === undefined ? {} : { ref }),
        ...(kept ? { probeHostTaskQueue: settings.hostTaskQueue } : {}),
      };
    } finally {
      if (!kept) await removeSandbox(probeDir);
    }
  }
}
