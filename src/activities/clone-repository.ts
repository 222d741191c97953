import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { progressReporter } from './progress-reporter.js';
import { beginCloneAttempt } from '../db/repo-lifecycle.js';
import { waitingForDatabase } from './database-wait.js';
import { changeRepoStatus } from '../db/repo-transitions.js';
import { findRepo, type AuditContext } from '../db/repos.js';
import { checkoutHead, headCommit } from '../git/checkout.js';
import { deepenRepository, fetchRepository } from '../git/operations.js';
import { indexBytesPerObject, objectsInIndex } from '../git/pack-budget.js';
import {
  bytesToMb,
  directorySize,
  makeReadOnly,
  probePath,
  removeSandbox,
  sandboxPaths,
  usageOf,
} from '../sandbox/sandbox.js';
import { metrics, sizeCategory, timed } from '../observability/metrics.js';
import { RepoError } from '../shared/errors.js';
import { budgetHit, overBudget } from './size-budget.js';
import { checkTreeBudget } from './tree-budget.js';
import { ensureFreeSpace, limitBytesOf, requiredFreeOf, type ActivityDeps } from './deps.js';
import { measuredTooLarge, sandboxFetchAccess } from './sandbox-fetch.js';
import { logGitFailure } from './git-failure-log.js';

/** The token is read from the row, never from here: a disconnected repository (token destroyed) cannot be cloned again. */
export interface CloneRepositoryInput {
  repoId: string;
  projectId: string;
  gitUrl: string;
  audit: AuditContext;
}

export interface CloneRepositoryResult {
  sandboxPath: string;
  repositorySizeMb: number;
  fileCount: number;
  /** The host-specific queue of the worker that holds the files; cleanup goes there. */
  hostTaskQueue: string;
  /** What git received, as it last reported; absent when it reported nothing (or the clone was done before this attempt). */
  bytesReceived?: number | null;
}

/** Admission's shallow probe, if this host kept one for the clone: its size and how many objects it holds. */
async function keptProbe(repoDir: string): Promise<{ bytes: number; objects: number } | undefined> {
  if (!existsSync(path.join(repoDir, '.git', 'shallow'))) return undefined;
  const packDir = path.join(repoDir, '.git', 'objects', 'pack');
  let objects = 0;
  for (const file of await readdir(packDir).catch(() => [] as string[])) {
    if (file.endsWith('.idx')) objects += objectsInIndex((await stat(path.join(packDir, file))).size);
  }
  return { bytes: (await directorySize(repoDir)).bytes, objects };
}

/**
 * Full clone into `<base>/<project_id>/<repo_id>/repository` under an enforced budget: git is
 * killed the moment what it wrote passes the limit, the working tree is written only after its
 * size is read from the tree, and a partial clone is always removed. Files end read-only.
 */
export function createCloneRepository(deps: ActivityDeps) {
  const { sql, logger, settings } = deps;
  return (input: CloneRepositoryInput): Promise<CloneRepositoryResult> =>
    timed(
      metrics.cloneDuration,
      'status',
      () => cloneRepository(input),
      (r) => ({ size_category: sizeCategory(r?.repositorySizeMb) }),
    ).catch(logGitFailure(logger, { repoId: input.repoId, requestId: input.audit.requestId }));
  async function cloneRepository(input: CloneRepositoryInput): Promise<CloneRepositoryResult> {
    const ctx = Context.current();
    const limitBytes = limitBytesOf(settings);
    const paths = sandboxPaths(settings.sandboxBasePath, input.projectId, input.repoId);
    // Run again after it committed (its result was lost on the way back): the clone is done, on whichever host did it.
    const recorded = await waitingForDatabase(() => findRepo(sql, input.repoId));
    if (recorded?.cloneStatus === 'COMPLETED' && recorded.sandboxPath && recorded.hostTaskQueue) {
      return {
        sandboxPath: recorded.sandboxPath,
        repositorySizeMb: recorded.repositorySizeMb ?? 0,
        fileCount: recorded.fileCount ?? 0,
        hostTaskQueue: recorded.hostTaskQueue,
      };
    }
    // Refused for a disconnected repository; the row's lock also keeps this host's sweep off the directory from here on.
    const row = await waitingForDatabase(() =>
      beginCloneAttempt(
        sql,
        { repoId: input.repoId, hostTaskQueue: settings.hostTaskQueue, attempt: ctx.info.attempt },
        input.audit,
      ),
    );
    const storedToken = {
      tokenCiphertext: row.tokenCiphertext!.toString('base64'),
      tokenKid: row.tokenKid!,
      projectId: input.projectId,
      repoId: input.repoId,
    };
    const progress = progressReporter();

    const measure = () => usageOf(paths.repository);
    let committing = false;

    try {
      // Admission's probe, kept on this host, becomes the repository (the row is CLONING here now,
      // so sweeps leave it be) and is deepened, on the first attempt; anything else (a previous
      // attempt that died half way) is removed, and the clone starts from nothing.
      const kept = probePath(settings.sandboxBasePath, input.repoId);
      const probe = ctx.info.attempt === 1 ? await keptProbe(kept) : undefined;
      await removeSandbox(paths.repository);
      await ensureFreeSpace(settings.sandboxBasePath, requiredFreeOf(settings));
      await mkdir(paths.root, { recursive: true, mode: 0o750 });
      if (probe) await rename(kept, paths.repository);
      else await removeSandbox(kept);
      const access = await sandboxFetchAccess(deps, {
        gitUrl: input.gitUrl,
        storedToken,
        measure,
        onProgress: (g) => progress.fromGit(g),
        signal: ctx.cancellationSignal,
      });
      const { idleTimeoutMs } = access;
      // The deepening pack may carry, appended, bases the probe holds (a thin pack made whole): the
      // index then lists those too, so the budget keeps room for one more entry per probe object.
      const fetched = probe
        ? deepenRepository({
            ...access,
            repoDir: paths.repository,
            packBudgetBytes: limitBytes - probe.bytes - probe.objects * indexBytesPerObject(limitBytes),
          })
        : fetchRepository({
            ...access,
            targetDir: paths.repository,
            shallow: false,
            ...(row.ref === null ? {} : { ref: row.ref }),
          });
      await fetched.catch(measuredTooLarge('clone', deps, measure));

      const tree = await checkTreeBudget('clone', settings, paths.repository, await measure());
      progress.report({ stage: 'checking out', percent: 90, bytesPerSecond: null });
      if (tree.files > 0) {
        await checkoutHead(paths.repository, {
          idleTimeoutMs,
          signal: ctx.cancellationSignal,
          limitBytes,
          limitInodes: settings.maxRepoInodes,
          measure,
          background: true,
        }).catch(measuredTooLarge('clone', deps, measure));
      }
      const commit = await headCommit(paths.repository, idleTimeoutMs);
      const usage = await directorySize(paths.repository);
      if (budgetHit(usage, settings)) throw overBudget('clone', settings, usage);
      const { bytes, files } = usage;
      await makeReadOnly(paths.repository);
      progress.report({ stage: 'done', percent: 100, bytesPerSecond: null });

      const repositorySizeMb = bytesToMb(bytes);
      // The download is done: a database that is down for a moment must not throw it away, and from
      // here the row may say COMPLETED (a commit whose answer was lost), so a failure keeps the files.
      committing = true;
      await waitingForDatabase(
        () =>
          changeRepoStatus(
            sql,
            {
              repoId: input.repoId,
              to: 'COMPLETED',
              repositorySizeMb,
              sandboxPath: paths.repository,
              fileCount: files,
              hostTaskQueue: settings.hostTaskQueue,
              sizeLimitMb: settings.maxRepoSizeMb,
              headCommit: commit,
              metadata: { bytes, files, host_task_queue: settings.hostTaskQueue, ref: row.ref, head_commit: commit },
            },
            input.audit,
          ),
        () => {
          // The progress reporter heartbeats on its own meanwhile; no signal for each wait.
        },
      );
      logger.info({ repoId: input.repoId, repositorySizeMb, files }, 'repository cloned');
      return {
        sandboxPath: paths.repository,
        repositorySizeMb,
        fileCount: files,
        hostTaskQueue: settings.hostTaskQueue,
        bytesReceived: progress.bytesReceived(),
      };
    } catch (err) {
      // A retry finds either the COMPLETED row with its files, or a CLONING row and starts over (removing them).
      if (!committing) await removeSandbox(paths.root);
      // Cancelled (a cleanup signal, or the worker shutting down): report it as a cancellation.
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (err instanceof RepoError && err.code === 'insufficient_storage') {
        throw new RepoError(err.code, err.message, { host_task_queue: settings.hostTaskQueue }, { cause: err });
      }
      throw err;
    } finally {
      progress.stop();
    }
  }
}
