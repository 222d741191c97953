import type { Logger } from '../config/logger.js';
import type { KeyProvider } from '../crypto/envelope.js';
import type { Sql } from '../db/client.js';

/** Everything activities need from the outside world, handed in by the worker's entry point. */
export interface ActivityDeps {
  sql: Sql;
  keys: KeyProvider;
  logger: Logger;
  settings: {
    sandboxBasePath: string;
    allowLoopback: boolean;
    /** Seconds git may stay silent before it is killed. */
    gitCloneTimeoutSeconds: number;
  };
}

/** Binds a token's ciphertext to the repository and project it belongs to. */
export const tokenContext = (projectId: string, repoId: string): string => `code_repos:${projectId}:${repoId}`;
