import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { findRepo } from '../db/repos.js';
import { recordSync, recordSyncFailure } from '../db/repo-sync.js';
import { headCommit, headTreeStats } from '../git/operations.js';
import { checkoutCommit, commitOf, deleteRef, fetchRef, SYNC_REF } from '../git/sync.js';
import { bytesToMb, directorySize, makeReadOnly, makeWritable } from '../sandbox/sandbox.js';
import type { AuditContext } from '../shared/audit-context.js';
import { RepoError } from '../shared/errors.js';
import { waitingForDatabase } from './database-wait.js';
import { limitBytesOf, type ActivityDeps } from './deps.js';
import { logGitFailure } from './git-failure-log.js';
import { progressReporter } from './progress-reporter.js';
import { measuredTooLarge, sandboxFetchAccess } from './sandbox-fetch.js';
import { overFileLimit, overSizeLimit } from './too-large.js';

export interface SyncRepositoryInput {
  repoId: string;
  projectId: string;
  gitUrl: string;
  audit: AuditContext;
}

export interface SyncRepositoryResult {
  headCommit: string | null;
  /** False when the ref's tip was already checked out: nothing was fetched or written. */
  changed: boolean;
  repositorySizeMb: number;
  fileCount: number;
  bytesReceived: number | null;
}

export interface MarkSyncFailedInput {
  repoId: string;
  errorCode: string;
  errorMessage: string;
  audit: AuditContext;
}

const packDir = (repoDir: string) => path.join(repoDir, '.git', 'objects', 'pack');
const packFiles = async (repoDir: string) => new Set(await readdir(packDir(repoDir)).catch(() => [] as string[]));

/** Removes the files of the pack directory that `keep` does not name. */
async function removePacksExcept(repoDir: string, keep: (file: string) => boolean): Promise<void> {
  for (const file of await packFiles(repoDir)) {
    if (!keep(file)) await rm(path.join(packDir(repoDir), file), { force: true });
  }
}

/**
 * Sync on the host that holds the clone: fetch the ref's new commits into it (only what it
 * lacks), under the budget the clone had, and check the new tip out read-only. Over the size or
 * file limit, or failing in any way, the clone is put back as it was: the previous commit checked
 * out, and the packs this fetch wrote removed.
 */
export function createSyncActivities(deps: ActivityDeps) {
  const { sql, logger, settings } = deps;

  async function syncRepository(input: SyncRepositoryInput): Promise<SyncRepositoryResult> {
    const ctx = Context.current();
    const row = await waitingForDatabase(() => findRepo(sql, input.repoId));
    if (row?.disconnectedAt || !row?.tokenCiphertext) throw new RepoError('disconnected', 'The repository was disconnected');
    if (row.cloneStatus !== 'COMPLETED' || !row.sandboxPath) throw new RepoError('invalid_state', `Only a COMPLETED repository can be synced; it is ${row.cloneStatus}`);
    const repoDir = row.sandboxPath;
    const limitBytes = limitBytesOf(settings);
    const idleTimeoutMs = settings.gitCloneTimeoutSeconds * 1000;
    const measure = async () => (await directorySize(repoDir).catch(() => ({ bytes: 0 }))).bytes;
    const previous = await headCommit(repoDir, idleTimeoutMs);
    const progress = progressReporter();
    /** The packs the clone held before this fetch; unset until listed, and then nothing is removed. */
    let packsBefore: Set<string> | undefined;
    let moved = false;

    try {
      await makeWritable(repoDir);
      // A pack an attempt killed mid-fetch was writing (index-pack's tmp_*): nothing refers to it.
      await removePacksExcept(repoDir, (file) => !file.startsWith('tmp_'));
      packsBefore = await packFiles(repoDir);
      const storedToken = { tokenCiphertext: row.tokenCiphertext.toString('base64'), tokenKid: row.tokenKid!, projectId: input.projectId, repoId: input.repoId };
      const access = await sandboxFetchAccess(deps, { gitUrl: input.gitUrl, storedToken, measure, onProgress: (g) => progress.fromGit(g), signal: ctx.cancellationSignal });
      await fetchRef({
        ...access,
        repoDir,
        ref: row.ref ?? 'HEAD',
        packBudgetBytes: Math.max(0, limitBytes - (await measure())),
      }).catch(measuredTooLarge('sync', deps, measure));
      const target = await commitOf(repoDir, SYNC_REF, idleTimeoutMs);
      if (target !== previous) {
        const tree = await headTreeStats(repoDir, idleTimeoutMs, settings.maxGitOutputBytes, target);
        const gitBytes = (await directorySize(path.join(repoDir, '.git'))).bytes;
        if (tree.files > settings.maxRepoFiles) throw overFileLimit('sync', settings, gitBytes + tree.bytes);
        if (gitBytes + tree.bytes > limitBytes) throw overSizeLimit('sync', settings, gitBytes + tree.bytes);
        progress.report({ stage: 'checking out', percent: 90, bytesPerSecond: null });
        moved = true;
        await checkoutCommit(repoDir, target, { idleTimeoutMs, signal: ctx.cancellationSignal, limitBytes, measure });
      }
      await deleteRef(repoDir, SYNC_REF, idleTimeoutMs);
      const { bytes, files } = await directorySize(repoDir);
      if (bytes > limitBytes) throw overSizeLimit('sync', settings, bytes);
      await makeReadOnly(repoDir);
      progress.report({ stage: 'done', percent: 100, bytesPerSecond: null });
      const repositorySizeMb = bytesToMb(bytes);
      await waitingForDatabase(() => recordSync(sql, {
        repoId: input.repoId,
        previousCommit: previous,
        headCommit: target,
        repositorySizeMb,
        fileCount: files,
        metadata: { changed: target !== previous, bytes, files, host_task_queue: settings.hostTaskQueue, ref: row.ref },
      }, input.audit));
      logger.info({ repoId: input.repoId, repositorySizeMb, files, changed: target !== previous }, 'repository synced');
      return { headCommit: target, changed: target !== previous, repositorySizeMb, fileCount: files, bytesReceived: progress.bytesReceived() };
    } catch (err) {
      // The sync's own failure is what the caller hears; a clone that could not be put back is the log's.
      await restore(repoDir, { previous, moved, packsBefore, idleTimeoutMs, limitBytes, measure })
        .catch((restoreErr: unknown) => logger.error({ repoId: input.repoId, reason: restoreErr instanceof Error ? restoreErr.message : String(restoreErr) }, 'could not restore the clone after a failed sync'));
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      throw err;
    } finally {
      progress.stop();
      await makeReadOnly(repoDir).catch(() => {});
    }
  }

  /** Back to the clone as it was before the sync: the previous commit checked out, the new ref and packs gone. */
  async function restore(repoDir: string, o: { previous: string | null; moved: boolean; packsBefore: Set<string> | undefined; idleTimeoutMs: number; limitBytes: number; measure: () => Promise<number> }) {
    await makeWritable(repoDir);
    if (o.moved && o.previous) await checkoutCommit(repoDir, o.previous, { idleTimeoutMs: o.idleTimeoutMs, limitBytes: o.limitBytes, measure: o.measure });
    await deleteRef(repoDir, SYNC_REF, o.idleTimeoutMs).catch(() => {});
    // No ref reaches into what this fetch wrote (index-pack is its only writer of objects): its packs, and any half-written one, can go.
    const before = o.packsBefore;
    if (before) await removePacksExcept(repoDir, (file) => before.has(file));
  }

  return {
    syncRepository: (input: SyncRepositoryInput) => syncRepository(input).catch(logGitFailure(logger, { repoId: input.repoId, requestId: input.audit.requestId })),
    /** A failed sync, on the record: the row stays COMPLETED with the failure's code and message. */
    async markSyncFailed(input: MarkSyncFailedInput): Promise<void> {
      const { workflowExecution, activityId } = Context.current().info;
      await recordSyncFailure(sql, input, input.audit, `${workflowExecution?.runId ?? ''}:${activityId}`);
    },
  };
}
