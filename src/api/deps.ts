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
    jwtSecret?: string;
    jwksUrl?: string;
    allowedOrigins: string[];
    rateLimit: { burst: number; perMinute: number };
  };
}
