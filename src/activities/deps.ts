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
  sizeEstimateFactor: number;
  /** The shared task queue this deployment's workflows run on. */
  taskQueue: string;
  /** This worker's host-specific task queue: work on the files of its clones is sent there. */
  hostTaskQueue: string;
  /** Free disk, beyond the clone's own budget, that must remain. */
  minFreeMb: number;
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
/** What must be free before a clone (or an admission) may go ahead: the budget + 5 %, plus the reserve. */
export const requiredFreeBytesOf = (s: ActivitySettings): number => limitBytesOf(s) * 1.05 + s.minFreeMb * MIB;

/** Fails with insufficient_storage unless `neededBytes` are free where sandboxes live. */
export async function ensureFreeSpace(basePath: string, neededBytes: number, work: 'clone' | 'sync' = 'clone'): Promise<void> {
  await mkdir(basePath, { recursive: true, mode: 0o750 });
  const fs = await statfs(basePath);
  if (fs.bavail * fs.bsize < neededBytes) {
    throw new RepoError('insufficient_storage', `Not enough disk space to ${work} the repository`);
  }
}
