import { z } from 'zod';

/** Accepts the usual spellings of a boolean flag; anything else is an error, not a silent `false`. */
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

/** Empty strings count as unset, so `FOO=` in a shell behaves like no `FOO` at all. */
const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(emptyAsUndefined, schema.optional());

const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL');

const base64Key32 = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded');

const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Loopback by default: set 0.0.0.0 deliberately (containers) to expose the API. */
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  /** Unset in the embedded default: `npm start` then runs its own PostgreSQL. */
  DATABASE_URL: optional(postgresUrl),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  /** Unset in the embedded default: `npm start` then runs the Temporal dev server. */
  TEMPORAL_ADDRESS: optional(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port')),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('repo-connect'),
  TEMPORAL_CLI_PATH: optional(z.string()),
  /** Ports of the dev server `npm start` runs when TEMPORAL_ADDRESS is unset. */
  TEMPORAL_DEV_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_DEV_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  DATA_DIR: z.string().min(1).default('.data'),
  /** Port of the PostgreSQL `npm start` runs when DATABASE_URL is unset; a free one is picked when unset. */
  EMBEDDED_POSTGRES_PORT: optional(z.coerce.number().int().min(1).max(65535)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JWT_SECRET: optional(z.string().min(32, 'must be at least 32 characters')),
  /** RS256/ES256 tokens are also accepted when their key is published here. */
  JWKS_URL: optional(z.string().url()),
  /** When set, every token must carry this `iss`; required in production with JWKS_URL. */
  JWT_ISSUER: optional(z.string().min(1)),
  /** When set, every token's `aud` must include this; required in production with JWKS_URL. */
  JWT_AUDIENCE: optional(z.string().min(1)),
  /** Where senders reach this API (scheme, host, optional port and path prefix): connect answers give an absolute webhook_url. */
  PUBLIC_BASE_URL: optional(
    z
      .string()
      .url()
      .regex(/^https?:\/\/[^?#]*$/, 'must be an http(s) URL without query or fragment')
      .transform((v) => v.replace(/\/+$/, '')),
  ),
  /** Comma-separated origins allowed by CORS; empty allows none. */
  ALLOWED_ORIGINS: list,
  /** Origins of the Temporal Web UI, allowed (CORS) to call the payload codec at /codec. */
  TEMPORAL_UI_ORIGINS: list,
  /**
   * `false` lets a Temporal UI on loopback (a loopback origin of TEMPORAL_UI_ORIGINS) call /codec without a
   * token, when the API listens on loopback only; `npm start` sets it for its embedded UI. Else an operator token.
   */
  CODEC_REQUIRE_AUTH: flag.default(true),
  /** The scope (in the token's `scope` claim) that makes a caller an operator, the only ones /codec serves. */
  CODEC_OPERATOR_SCOPE: z
    .string()
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be one OAuth scope token (no spaces or quotes)')
    .default('codec:operator'),
  /** Payloads one /codec request may carry: each may cost a KMS call. */
  CODEC_MAX_PAYLOADS: positiveInt.default(100),
  /** Token bucket per /codec caller (operator, or the loopback UI): capacity, and requests refilled per minute. */
  CODEC_RATE_LIMIT_BURST: positiveInt.default(100),
  CODEC_RATE_LIMIT_PER_MINUTE: positiveInt.default(300),
  /** Token bucket per user for POST endpoints: capacity, and tokens refilled per minute. */
  RATE_LIMIT_BURST: positiveInt.default(20),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(60),
  /** Token bucket per user for GET endpoints (reads, status polls, event streams opened): capacity, refilled per minute. */
  READ_RATE_LIMIT_BURST: positiveInt.default(120),
  READ_RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
  /** Token bucket per repository for the push webhooks acted on (each one a sync): capacity, and refilled per minute. */
  WEBHOOK_SYNC_RATE_LIMIT_BURST: positiveInt.default(10),
  WEBHOOK_SYNC_RATE_LIMIT_PER_MINUTE: positiveInt.default(30),
  /** Syncs one worker runs at once, in slots of their own on its host (apart from cleanups and sweeps). */
  SYNC_CONCURRENCY: positiveInt.default(4),
  /** When set, the worker serves Prometheus metrics on this port. */
  WORKER_METRICS_PORT: optional(z.coerce.number().int().min(1).max(65535)),
  /** When set, the API serves /metrics on this port only, instead of beside its routes on PORT. */
  API_METRICS_PORT: optional(z.coerce.number().int().min(1).max(65535)),
  /** When set, every /metrics endpoint asks for `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: optional(z.string().min(16, 'must be at least 16 characters')),
  MAX_REPO_SIZE_MB: z.coerce.number().positive().default(100),
  MAX_REPO_FILES: positiveInt.default(100_000),
  /** Inodes (files, directories, symlinks, `.git` included) a clone may take: MAX_REPO_FILES and as many directories. */
  MAX_REPO_INODES: positiveInt.default(200_000),
  /** Admission estimate = on-disk size of a tip-only probe × this factor (reported, never used to reject). */
  SIZE_ESTIMATE_FACTOR: z.coerce.number().min(1).default(1.5),
  GIT_CLONE_TIMEOUT: positiveInt.default(300),
  SANDBOX_BASE_PATH: z.string().min(1).default('/tmp/repos'),
  SANDBOX_TTL_SECONDS: positiveInt.default(86400),
  /** The shortest `sync_interval_seconds` a connect may ask for (the design's minimum, 60; lower only to test). */
  SYNC_MIN_INTERVAL_SECONDS: positiveInt.default(60),
  /** Failed syncs in a row after which a repository's syncs stop until its user answers (`retry`, or a new connect). */
  SYNC_FAILURE_LIMIT: positiveInt.default(5),
  /** Syncs one workflow run makes before it continues as new (its history stays bounded); also when Temporal suggests it. */
  SYNCS_PER_RUN: positiveInt.default(50),
  /** Disk kept free beyond a clone's own budget (MAX_REPO_SIZE_MB + 5 %) before a clone may start. */
  SANDBOX_MIN_FREE_MB: z.coerce.number().min(0).default(0),
  /** Inodes kept free beyond a clone's own inode budget (MAX_REPO_INODES + 5 %) before a clone may start. */
  SANDBOX_MIN_FREE_INODES: z.coerce.number().int().min(0).default(10_000),
  GIT_ALLOW_LOOPBACK: flag.default(false),
  /** Comma-separated ports git may connect to (loopback, when allowed, on any port): https's alone by default. */
  GIT_ALLOWED_PORTS: z
    .preprocess(emptyAsUndefined, z.string().default('443'))
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.coerce.number<string>().int().min(1).max(65535)).min(1, 'must name at least one port')),
  /** What git may print that the worker reads into memory (ref listings, tree listings); over it git is killed. */
  GIT_MAX_OUTPUT_MB: z.coerce.number().positive().default(32),
  /** Clones one worker runs at once (disk and network heavy). */
  WORKER_CONCURRENCY: positiveInt.default(4),
  /** Admission activities (encryption, size probes, database steps) one worker runs at once, apart from clones. */
  ADMISSION_CONCURRENCY: positiveInt.default(8),
  /**
   * Workflows one worker keeps in memory (~0.6 MB each). Ours wait a day for their TTL between a
   * few moments of work; one evicted is replayed from its short history when it wakes. At least
   * 50: above the workflow tasks a worker runs at once (40), so a busy run is never evicted.
   */
  WORKFLOW_CACHE_SIZE: positiveInt.min(50).default(100),
  /** How long the API waits for the workflow to admit or reject a request before answering 202. */
  ADMISSION_WAIT_SECONDS: positiveInt.default(30),
  /** How often the reconciler (a Temporal Schedule) settles rows whose workflow ended without settling them. */
  RECONCILE_INTERVAL_SECONDS: positiveInt.default(300),
  /** Rows the reconciler examines per pass (one describe each); the next pass goes on after the last, so all are reached in turn. */
  RECONCILE_PAGE_SIZE: positiveInt.default(2000),
  /** Audit rows older than this are deleted by the retention schedule. */
  AUDIT_RETENTION_DAYS: positiveInt.default(400),
  /** How long a webhook delivery id is remembered (a redelivery within it is a duplicate): senders redeliver within hours, GitHub's manual redelivery within 3 days. */
  WEBHOOK_DELIVERY_RETENTION_DAYS: positiveInt.default(7),
  /** How often the retention schedule deletes what is past its retention, and the rows it deletes per statement. */
  RETENTION_INTERVAL_SECONDS: positiveInt.default(3600),
  RETENTION_BATCH_SIZE: positiveInt.default(1000),
  /** How often each worker removes sandboxes on its disk that no live row of its host owns. */
  SANDBOX_SWEEP_INTERVAL_SECONDS: positiveInt.default(300),
  /** Names this host's task queue, which cleanup of the clones on its disk is sent to; stable across restarts. */
  WORKER_HOST_ID: optional(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, dash, underscore')),
  /** Signs the API's calls to the worker hosts' read services (HS256): the same on every API and worker, never JWT_SECRET. */
  READ_SERVICE_SECRET: optional(z.string().min(32, 'must be at least 32 characters')),
  /** Where this worker's read service listens: loopback by default (set 0.0.0.0 deliberately); port 0 takes a free one. */
  READ_SERVICE_HOST: z.string().min(1).default('127.0.0.1'),
  READ_SERVICE_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** The address the API reaches this worker's read service at, advertised for its host; default http://<READ_SERVICE_HOST>:<port>. */
  READ_SERVICE_URL: optional(
    z
      .string()
      .url()
      .regex(/^https?:\/\/[^?#]*$/, 'must be an http(s) URL without query or fragment')
      .transform((v) => v.replace(/\/+$/, '')),
  ),
  /** How often a worker renews its read service's address; the API takes a host silent for three of these as gone. */
  READ_HOST_HEARTBEAT_SECONDS: positiveInt.default(10),
  /** Reads one worker host serves at once (each runs git); more are answered 503 `read_busy`. */
  READ_CONCURRENCY: positiveInt.default(32),
  /** Bytes of a file a read returns unless it asks for more (`max_bytes`), and the most it may ask for. */
  READ_MAX_FILE_BYTES: positiveInt.default(1024 * 1024),
  READ_MAX_FILE_BYTES_CAP: positiveInt.default(16 * 1024 * 1024),
  /** A code search's bounds: git is stopped at either, and the answer says `truncated`. */
  READ_SEARCH_TIMEOUT_MS: positiveInt.default(5000),
  READ_SEARCH_MAX_MATCHES: positiveInt.default(1000),
  /** AWS KMS key that wraps new data keys (region and endpoint from the SDK's standard AWS_* settings). */
  KMS_KEY_ID: optional(z.string().min(1)),
  /** Comma-separated older KMS keys, still used to open what they wrapped. */
  KMS_PREVIOUS_KEY_IDS: list,
  MASTER_ENCRYPTION_KEY: optional(base64Key32),
  /** Comma-separated older local master keys (base64), still used to open what they wrapped. */
  PREVIOUS_MASTER_ENCRYPTION_KEYS: list.pipe(z.array(base64Key32)),
});

export type Config = z.infer<typeof envSchema>;

/** The API's settings for scheduled syncs; a workflow takes them from the request that started it. */
export const syncSettingsOf = (config: Config) => ({
  minIntervalSeconds: config.SYNC_MIN_INTERVAL_SECONDS,
  failureLimit: config.SYNC_FAILURE_LIMIT,
  syncsPerRun: config.SYNCS_PER_RUN,
});

/** The bounds every read of a clone is held to, by the API that checks a request and the host that serves it. */
export const readBoundsOf = (config: Config) => ({
  maxFileBytes: config.READ_MAX_FILE_BYTES,
  maxFileBytesCap: Math.max(config.READ_MAX_FILE_BYTES, config.READ_MAX_FILE_BYTES_CAP),
  searchTimeoutMs: config.READ_SEARCH_TIMEOUT_MS,
  searchMaxMatches: config.READ_SEARCH_MAX_MATCHES,
  archiveMaxBytes: Math.floor(config.MAX_REPO_SIZE_MB * 1024 * 1024),
});
export type ReadBounds = ReturnType<typeof readBoundsOf>;
