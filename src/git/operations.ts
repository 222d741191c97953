import { classifyGitFailure } from './classify.js';
import { gitEnvironment } from './git-env.js';
import { isRefName } from '../shared/ref-name.js';
import type { PinnedRemote } from './remote-guard.js';
import { parseLsRemote, type RemoteRefs } from './remote-refs.js';
import type { GitProgress } from './progress.js';
import { GitProcessError, runGit } from './run-git.js';
import { RepoError } from '../shared/errors.js';

export interface RemoteAccess {
  remote: PinnedRemote;
  token: string;
  allowHttp: boolean;
  idleTimeoutMs: number;
  signal?: AbortSignal;
  /** A clone, not a probe someone waits on: run at a lower CPU priority. */
  background?: boolean;
  /** What of git's output may be read into memory (GIT_MAX_OUTPUT_MB); the default of runGit when unset. */
  maxOutputBytes?: number;
}

const envFor = (a: RemoteAccess) =>
  gitEnvironment({ token: a.token, allowHttp: a.allowHttp, curlResolve: a.remote.curlResolve });

export function mapFailure(err: unknown): unknown {
  if (!(err instanceof GitProcessError) || err.reason === 'aborted') return err;
  return classifyGitFailure(err);
}

/**
 * How often a fetch's directory is measured. The pack and its index, nearly all of what a fetch
 * writes, are held by the kernel's cap (pack-budget.ts) and every file by RLIMIT_FSIZE; the walk
 * only catches the rest (refs, shallow, config) and must not cost a busy host more than the fetch.
 */
const SIZE_WATCH_INTERVAL_MS = 250;

/** Kills git once the directory, as measured, passes either budget: blocks or inodes. */
export const sizeWatch = (o: Budgeted, intervalMs: number) => ({
  intervalMs,
  check: async () => {
    const usage = await o.measure();
    return usage.bytes > o.limitBytes || usage.inodes > o.limitInodes
      ? 'The repository exceeds the size limit'
      : undefined;
  },
});

/** The budgets a git command writing into a sandbox runs under, and how its directory is measured. */
export interface Budgeted {
  limitBytes: number;
  limitInodes: number;
  /** What the target takes now; polled so git is killed the moment it passes a budget. */
  measure: () => Promise<{ bytes: number; inodes: number }>;
}

/** Authenticates and looks the repository up; returns its branches, tags and default branch. */
export async function lsRemote(a: RemoteAccess): Promise<RemoteRefs> {
  try {
    const out = await runGit({
      args: ['ls-remote', '--symref', '--', a.remote.url],
      env: envFor(a),
      idleTimeoutMs: a.idleTimeoutMs,
      signal: a.signal,
      maxStdoutBytes: a.maxOutputBytes,
    });
    return parseLsRemote(out);
  } catch (err) {
    throw mapFailure(err);
  }
}

interface BudgetedFetch extends RemoteAccess, Budgeted {
  onProgress?: (progress: GitProgress) => void;
}

/**
 * No reverse index (git ≥ 2.41 writes one by default), never loose objects, no maintenance
 * afterwards (a repack would hold everything twice for a while): index-pack is then the only
 * writer of objects, and its output is what the pack budget predicts.
 */
const OBJECTS_ONLY_BY_INDEX_PACK = [
  '-c',
  'pack.writeReverseIndex=false',
  '-c',
  'transfer.unpackLimit=1',
  '-c',
  'maintenance.auto=false',
  '-c',
  'gc.auto=0',
];

/**
 * Runs a fetching git command whose pack and index together never pass `packBudgetBytes` (the
 * kernel's file-size cap on index-pack, see pack-budget.ts); git is also killed as too large once
 * the directory, as polled, passes the limit (refs, config: what the cap does not cover).
 */
export async function fetchUnderBudget(args: string[], o: BudgetedFetch, packBudgetBytes: number): Promise<void> {
  try {
    await runGit({
      args: [...OBJECTS_ONLY_BY_INDEX_PACK, ...args],
      env: envFor(o),
      idleTimeoutMs: o.idleTimeoutMs,
      signal: o.signal,
      maxFileBytes: o.limitBytes,
      reportFileSizeCap: true,
      packBudgetBytes,
      onProgress: o.onProgress,
      background: o.background,
      watch: sizeWatch(o, SIZE_WATCH_INTERVAL_MS),
    });
  } catch (err) {
    throw mapFailure(err);
  }
}

export interface FetchOptions extends BudgetedFetch {
  targetDir: string;
  /** Only the tip of the ref (the size probe). */
  shallow: boolean;
  /** The branch or tag HEAD is to be (a tag detached); absent: the remote's HEAD. */
  ref?: string;
}

/** Clones objects only (`--no-checkout`): the working tree is written later, after its size is known from the tree itself. */
export function fetchRepository(o: FetchOptions): Promise<void> {
  // Checked here as well as by the API: whatever reaches argv is never read as an option.
  if (o.ref !== undefined && !isRefName(o.ref))
    return Promise.reject(new RepoError('ref_not_found', 'Not a branch or tag name'));
  return fetchUnderBudget(
    [
      'clone',
      '--no-checkout',
      '--template=',
      '--no-recurse-submodules',
      '--progress',
      ...(o.ref === undefined ? [] : [`--branch=${o.ref}`]),
      ...(o.shallow ? ['--depth=1', '--single-branch', '--no-tags'] : []),
      '--',
      o.remote.url,
      o.targetDir,
    ],
    o,
    o.limitBytes,
  );
}

export interface DeepenOptions extends BudgetedFetch {
  /** A repository the size probe fetched (`--depth=1 --single-branch`, objects only). */
  repoDir: string;
  /** What the pack this fetch writes, with its index, may take. */
  packBudgetBytes: number;
}

/**
 * Turns the probe's shallow repository into what a full clone holds: the rest of the history
 * and every branch and tag, sent as one pack of what the probe does not hold already, so a
 * connect costs the Git server about one clone, not a probe and then a clone.
 */
export function deepenRepository(o: DeepenOptions): Promise<void> {
  return fetchUnderBudget(
    [
      '-C',
      o.repoDir,
      'fetch',
      '--unshallow',
      '--tags',
      '--update-head-ok',
      '--no-recurse-submodules',
      '--progress',
      '--',
      o.remote.url,
      '+refs/heads/*:refs/heads/*',
    ],
    o,
    o.packBudgetBytes,
  );
}
