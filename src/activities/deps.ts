import type { Logger } from '../config/logger.js';
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
  /** Seconds git may stay silent before it is killed. */
  gitCloneTimeoutSeconds: number;
  maxRepoSizeMb: number;
  maxRepoFiles: number;
  sizeEstimateFactor: number;
  /** This worker's host-specific task queue: work on the files of its clones is sent there. */
  hostTaskQueue: string;
  /** Sandboxes older than this are expired (the cleanup timer's TTL). */
  sandboxTtlSeconds: number;
}

/** Binds a token's ciphertext to the repository and project it belongs to. */
export const tokenContext = (projectId: string, repoId: string): string => `code_repos:${projectId}:${repoId}`;

export const MIB = 1024 * 1024;
export const limitBytesOf = (s: ActivitySettings): number => s.maxRepoSizeMb * MIB;
