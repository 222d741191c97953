import { createApp } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { envSchema, readBoundsOf } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';

export const STAND_IN_JWT_SECRET = 'x'.repeat(32);

/** The app over stand-in dependencies: building it touches none, nor do the requests unit tests send; `deps` replaces some. */
export const standInApp = (deps: Partial<Omit<ApiDeps, 'settings'>> = {}) =>
  createApp({
    sql: {} as ApiDeps['sql'],
    temporal: {} as ApiDeps['temporal'],
    keys: {} as ApiDeps['keys'],
    codec: {} as ApiDeps['codec'],
    logger: createLogger({ level: 'silent' }),
    settings: {
      taskQueue: 'q',
      allowLoopback: false,
      allowedGitPorts: [443],
      sandboxTtlSeconds: 60,
      sync: { minIntervalSeconds: 60, failureLimit: 5, syncsPerRun: 50 },
      admissionWaitSeconds: 30,
      jwtSecret: STAND_IN_JWT_SECRET,
      allowedOrigins: [],
      rateLimit: { burst: 1, perMinute: 1 },
      readRateLimit: { burst: 1, perMinute: 1 },
      webhookSyncRateLimit: { burst: 1, perMinute: 1 },
      temporalUiOrigins: [],
      codec: {
        loopbackUiOrigins: [],
        operatorScope: 'codec:operator',
        maxPayloads: 100,
        rateLimit: { burst: 1, perMinute: 1 },
      },
      readServiceSecret: 'y'.repeat(32),
      readBounds: readBoundsOf(envSchema.parse({})),
      readHostStaleSeconds: 30,
    },
    ...deps,
  });
