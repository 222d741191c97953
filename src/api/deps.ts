import type { Client } from '@temporalio/client';
import type { Logger } from '../config/logger.js';
import type { Sql } from '../db/client.js';

export interface ApiDeps {
  sql: Sql;
  temporal: Client;
  logger: Logger;
  settings: {
    taskQueue: string;
    allowLoopback: boolean;
    sandboxTtlSeconds: number;
  };
}

/** Until JWT auth lands (REST API issue), every caller acts as this user. */
export const ANONYMOUS_USER = 'anonymous';
