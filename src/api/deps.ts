import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { ReadBounds } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import type { KeyProvider } from '../crypto/envelope.js';
import type { Sql } from '../db/client.js';

export interface ApiDeps {
  sql: Sql;
  temporal: Client;
  /** Seals access tokens before they enter Temporal, and serves the payload codec endpoint. */
  keys: KeyProvider;
  /** The payload codec the API's Temporal client uses; also served at /codec for the Web UI. */
  codec: PayloadCodec;
  logger: Logger;
  /** Aborted when the API stops: long-lived responses (status streams) end, so the server can close. */
  shutdown?: AbortSignal;
  settings: {
    taskQueue: string;
    allowLoopback: boolean;
    /** GIT_ALLOWED_PORTS: the ports a git_url may name (any on loopback, when allowed). */
    allowedGitPorts: readonly number[];
    sandboxTtlSeconds: number;
    /** Scheduled syncs: the shortest interval a connect may ask for, failures in a row before syncs stop, syncs a workflow run makes before it continues as new. */
    sync: { minIntervalSeconds: number; failureLimit: number; syncsPerRun: number };
    /** How long a connect request waits for admission before it is answered 202 (ask again for the outcome). */
    admissionWaitSeconds: number;
    jwtSecret?: string;
    jwksUrl?: string;
    /** `iss` and `aud` every token must carry, when set. */
    jwtIssuer?: string;
    jwtAudience?: string;
    /** Least time between key set fetches for unknown key ids (jose's default 30 s when unset). */
    jwksCooldownMs?: number;
    allowedOrigins: string[];
    /** PUBLIC_BASE_URL: makes the connect answer's webhook_url absolute; unset, it is the path. */
    publicBaseUrl?: string;
    /** Per user, across API instances: POST requests, and GET requests (reads) in buckets of their own. */
    rateLimit: { burst: number; perMinute: number };
    readRateLimit: { burst: number; perMinute: number };
    /** Push webhooks acted on per repository (a bucket shared by every API instance). */
    webhookSyncRateLimit: { burst: number; perMinute: number };
    /** Origins of the Temporal Web UI allowed to call /codec. */
    temporalUiOrigins: string[];
    codec: {
      /** UI origins let through without a token by the loopback exception; empty: operators' tokens only. */
      loopbackUiOrigins: string[];
      /** The `scope` an operator's token carries. */
      operatorScope: string;
      maxPayloads: number;
      /** Per caller, in this process. */
      rateLimit: { burst: number; perMinute: number };
    };
    /** False when API_METRICS_PORT serves /metrics elsewhere (default: served here). */
    metricsOnApiPort?: boolean;
    /** METRICS_TOKEN: the bearer token /metrics asks for, when set. */
    metricsToken?: string;
    /** READ_SERVICE_SECRET: signs each read routed to a worker host's read service. */
    readServiceSecret: string;
    readBounds: ReadBounds;
    /** A host whose read service has not renewed its address for this long is taken as gone. */
    readHostStaleSeconds: number;
  };
}
