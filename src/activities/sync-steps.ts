import path from 'node:path';
import { sealedFromBytes } from '../crypto/sealed-secret.js';
import { findRepo, type CodeRepo } from '../db/repos.js';
import { commitOf, headCommit } from '../git/checkout.js';
import { stopGitIn } from '../git/processes.js';
import { checkoutCommit, deleteRef, fetchRef, SYNC_REF } from '../git/sync.js';
import { directorySize, makeWritable, usageOf, type DiskUsage } from '../sandbox/sandbox.js';
import { storedAs } from '../shared/connect-repository.js';
import { RepoError } from '../shared/errors.js';
import { canSync, notSyncableMessage } from '../shared/repo-eligibility.js';
import { waitingForDatabase } from './database-wait.js';
import { ensureFreeSpace, limitBytesOf, MIB, type ActivityDeps, type ActivitySettings } from './deps.js';
import { progressReporter } from './progress-reporter.js';
import { measuredTooLarge, sandboxFetchAccess } from './sandbox-fetch.js';
import { budgetHit, overBudget, type Usage } from './size-budget.js';
import {
  dropPacksBefore,
  packsBeforeAttempt,
  removePacksExcept,
  removeStaleLocks,
  removeUnfinishedPacks,
} from './sync-recovery.js';
import { checkTreeBudget } from './tree-budget.js';

/** A row a sync may work on: connected (its token kept), its clone kept on this host. */
type SyncableRow = CodeRepo & { tokenCiphertext: Buffer; sandboxPath: string };

/** One sync attempt: the row it started from, its clone, and the limits its git runs under. */
export interface SyncAttempt {
  row: SyncableRow;
  repoDir: string;
  /** The commit the row records (HEAD, when it records none): what a failed attempt puts back. */
  previous: string | null;
  idleTimeoutMs: number;
  limitBytes: number;
  limitInodes: number;
  measure: () => Promise<Usage>;
  /** Git stops when the activity is cancelled or another attempt takes the clone. */
  signal: AbortSignal;
  progress: ReturnType<typeof progressReporter>;
}

/** Refuses a repository that was disconnected (its token destroyed) or whose clone cannot be synced. */
function assertSyncable(row: CodeRepo | undefined): asserts row is SyncableRow {
  if (row?.disconnectedAt || !row?.tokenCiphertext)
    throw new RepoError('disconnected', 'The repository was disconnected');
  if (!canSync(row.cloneStatus) || !row.sandboxPath)
    throw new RepoError('invalid_state', notSyncableMessage(row.cloneStatus));
}

/** The attempt, from the row as it is now. */
export async function beginAttempt(
  { sql, settings }: Pick<ActivityDeps, 'sql' | 'settings'>,
  repoId: string,
  signal: AbortSignal,
): Promise<SyncAttempt> {
  const row = await waitingForDatabase(() => findRepo(sql, repoId));
  assertSyncable(row);
  const repoDir = row.sandboxPath;
  const idleTimeoutMs = settings.gitCloneTimeoutSeconds * 1000;
  return {
    row,
    repoDir,
    // The row, not the disk: an attempt that died may have moved the checkout.
    previous: row.headCommit ?? (await headCommit(repoDir, idleTimeoutMs)),
    idleTimeoutMs,
    limitBytes: limitBytesOf(settings),
    limitInodes: settings.maxRepoInodes,
    measure: () => usageOf(repoDir),
    signal,
    progress: progressReporter(),
  };
}

/**
 * Back to the clone the row records, from whatever an attempt left: no stale lock, the row's
 * commit checked out (always, if an attempt was under way: a killed reset leaves HEAD where it was
 * and the files half-written), no sync ref, and none of the packs fetched since the marker.
 */
export async function restoreClone(a: SyncAttempt): Promise<void> {
  // An earlier attempt's git may still be writing (its heartbeat timed out): its locks and packs are its own until it is gone.
  await stopGitIn(a.repoDir);
  await makeWritable(a.repoDir);
  await removeStaleLocks(a.repoDir);
  // What a git killed mid-fetch or mid-repack was writing: nothing refers to it.
  await removeUnfinishedPacks(a.repoDir);
  const before = await packsBeforeAttempt(a.repoDir);
  if (a.previous && (before || (await headCommit(a.repoDir, a.idleTimeoutMs)) !== a.previous)) {
    await checkoutCommit(a.repoDir, a.previous, {
      idleTimeoutMs: a.idleTimeoutMs,
      limitBytes: a.limitBytes,
      limitInodes: a.limitInodes,
      measure: a.measure,
    });
  }
  await deleteRef(a.repoDir, SYNC_REF, a.idleTimeoutMs);
  // No ref reaches into what was fetched since (index-pack is its only writer of objects): those packs can go.
  if (before) await removePacksExcept(a.repoDir, (file) => before.has(file));
  await dropPacksBefore(a.repoDir);
}

/** Where the sync fetches from, and the pushed commit a webhook named (if any). */
interface SyncSource {
  after?: string;
  gitUrl: string;
  projectId: string;
  repoId: string;
}

/**
 * The commit to check out: the webhook's, when it is the one checked out already (nothing is
 * fetched), else the ref's tip, fetched into SYNC_REF.
 */
export async function fetchTarget(deps: ActivityDeps, a: SyncAttempt, source: SyncSource): Promise<string> {
  // Only the commit checked out is up to date: an older one may be a force-rewind, and fetching a tip the clone has transfers nothing.
  const upToDate = source.after !== undefined && source.after === a.previous;
  if (!upToDate) await fetchTip(deps, a, source);
  const target = upToDate ? a.previous : await commitOf(a.repoDir, SYNC_REF, a.idleTimeoutMs);
  if (!target) throw new RepoError('git_failed', 'The fetch left no commit to check out');
  return target;
}

/** Fetches the ref's new commits into SYNC_REF, under what is left of the budget. */
async function fetchTip(deps: ActivityDeps, a: SyncAttempt, source: SyncSource): Promise<void> {
  const { settings } = deps;
  const storedToken = {
    ...storedAs('token', sealedFromBytes(a.row.tokenCiphertext, a.row.tokenKid!)),
    projectId: source.projectId,
    repoId: source.repoId,
  };
  const access = await sandboxFetchAccess(deps, {
    gitUrl: source.gitUrl,
    storedToken,
    measure: a.measure,
    onProgress: (g) => a.progress.fromGit(g),
    signal: a.signal,
  });
  const present = await a.measure();
  const packBudgetBytes = Math.max(0, a.limitBytes - present.bytes);
  // The sync may take what is left of each budget: that (+ 5 %) and the reserve must be free first, as before a clone.
  await ensureFreeSpace(
    settings.sandboxBasePath,
    {
      bytes: packBudgetBytes * 1.05 + settings.minFreeMb * MIB,
      inodes: Math.max(0, settings.maxRepoInodes - present.inodes) * 1.05 + settings.minFreeInodes,
    },
    'sync',
  );
  await fetchRef({ ...access, repoDir: a.repoDir, ref: a.row.ref ?? 'HEAD', packBudgetBytes }).catch(
    measuredTooLarge('sync', deps, a.measure),
  );
}

/**
 * Checks `target` out, unless it already is, once its tree fits the budget; then drops SYNC_REF.
 * Returns what the clone takes now, refused past a budget.
 */
export async function checkOutTarget(settings: ActivitySettings, a: SyncAttempt, target: string): Promise<DiskUsage> {
  if (target !== a.previous) {
    await checkTreeBudget('sync', settings, a.repoDir, await directorySize(path.join(a.repoDir, '.git')), target);
    a.progress.report({ stage: 'checking out', percent: 90, bytesPerSecond: null });
    await checkoutCommit(a.repoDir, target, {
      idleTimeoutMs: a.idleTimeoutMs,
      signal: a.signal,
      limitBytes: a.limitBytes,
      limitInodes: a.limitInodes,
      measure: a.measure,
    });
  }
  await deleteRef(a.repoDir, SYNC_REF, a.idleTimeoutMs);
  const usage = await directorySize(a.repoDir);
  if (budgetHit(usage, settings)) throw overBudget('sync', settings, usage);
  return usage;
}
