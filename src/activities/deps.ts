import { mkdir, statfs } from 'node:fs/promises';
import type { Logger } from '../config/logger.js';
import { RepoError } from '../shared/errors.js';
import type { KeyProvider } from '../crypto/envelope.js';
import type { Sql } from '../db/client.js';

/** Everything activities need from the outside world, handed in by the worker's entry point. */
export interface ActivityDeps {
  sql: Sql;
  keys: KeyProvider;
  logger: Logger;
  settings: ActivitySettings;
}

export interface ActivitySettings {
  sandboxBasePath: string;
  allowLoopback: boolean;
  /** GIT_ALLOWED_PORTS: the ports git may connect to (any on loopback, when allowed). */
  allowedGitPorts: readonly number[];
  /** GIT_MAX_OUTPUT_MB in bytes: what of git's output (ref and tree listings) may be read into memory. */
  maxGitOutputBytes: number;
  /** Seconds git may stay silent before it is killed. */
  gitCloneTimeoutSeconds: number;
  maxRepoSizeMb: number;
  maxRepoFiles: number;
  /** MAX_REPO_INODES: files, directories and symlinks a clone may take, `.git` included. */
  maxRepoInodes: number;
  sizeEstimateFactor: number;
  /** The shared task queue this deployment's workflows run on. */
  taskQueue: string;
  /** This worker's host-specific task queue: work on the files of its clones is sent there. */
  hostTaskQueue: string;
  /** Free disk, beyond the clone's own budget, that must remain. */
  minFreeMb: number;
  /** Free inodes, beyond the clone's own inode budget, that must remain. */
  minFreeInodes: number;
  /** Sandboxes older than this are expired (the cleanup timer's TTL). */
  sandboxTtlSeconds: number;
  /** RECONCILE_PAGE_SIZE: unsettled rows one reconciler pass examines. */
  reconcilePageSize: number;
  retention: RetentionSettings;
}

export interface RetentionSettings {
  auditDays: number;
  webhookDeliveryDays: number;
  /** Rows deleted per statement (each its own short transaction, with a heartbeat between). */
  batchSize: number;
}

/** Binds a token's ciphertext to the repository and project it belongs to. */
export const tokenContext = (projectId: string, repoId: string): string => `code_repos:${projectId}:${repoId}`;

export const MIB = 1024 * 1024;
export const limitBytesOf = (s: ActivitySettings): number => s.maxRepoSizeMb * MIB;
/** What must be free before a clone (or an admission) may go ahead: each budget + 5 %, plus its reserve. */
export const requiredFreeOf = (s: ActivitySettings): FreeSpace => ({
  bytes: limitBytesOf(s) * 1.05 + s.minFreeMb * MIB,
  inodes: s.maxRepoInodes * 1.05 + s.minFreeInodes,
});

export interface FreeSpace {
  bytes: number;
  inodes: number;
}

/** Fails with insufficient_storage unless `needed` bytes and inodes are free where sandboxes live. */
export async function ensureFreeSpace(
  basePath: string,
  needed: FreeSpace,
  work: 'clone' | 'sync' = 'clone',
): Promise<void> {
  await mkdir(basePath, { recursive: true, mode: 0o750 });
  const fs = await statfs(basePath);
  if (fs.bavail * fs.bsize < needed.bytes) {
    throw new RepoError('insufficient_storage', `Not enough disk space to ${work} the repository`);
  }
  // A filesystem without a fixed inode table (btrfs) reports none at all: nothing to run out of.
  if (fs.files > 0 && fs.ffree < needed.inodes) {
    throw new RepoError('insufficient_storage', `Not enough free inodes to ${work} the repository`);
  }
}

/** The block size of the sandboxes' filesystem, which the tree's estimate rounds to. */
export const sandboxBlockSize = async (s: ActivitySettings): Promise<number> => (await statfs(s.sandboxBasePath)).bsize;
