import path from 'node:path';
import { envSchema, type Config } from './env.js';
import { isLoopbackHost } from './loopback.js';

/** A configuration whose external services are known (set by the operator or by the dev launcher). */
export type ConnectedConfig = Config & { DATABASE_URL: string; TEMPORAL_ADDRESS: string };

/** Production entry points need both services named; only `npm start` provides its own. */
export function requireServices(config: Config): ConnectedConfig {
  const missing = (['DATABASE_URL', 'TEMPORAL_ADDRESS'] as const).filter((name) => !config[name]);
  if (missing.length > 0)
    throw new ConfigError(missing.map((name) => `${name}: required by this entry point (npm start provides its own)`));
  return config as ConnectedConfig;
}

/**
 * The API cannot authenticate anyone without a JWT secret or a JWKS URL; and in production, a key
 * set (often an identity provider's, signing tokens for other services too) counts only for tokens
 * issued by it for this API.
 */
export function requireAuth<T extends Config>(config: T): T {
  if (!config.JWT_SECRET && !config.JWKS_URL) {
    throw new ConfigError(['JWT_SECRET: required by the API unless JWKS_URL is set (npm start generates one)']);
  }
  if (config.NODE_ENV === 'production' && config.JWKS_URL && (!config.JWT_ISSUER || !config.JWT_AUDIENCE)) {
    throw new ConfigError([
      'JWT_ISSUER, JWT_AUDIENCE: both required in production when JWKS_URL is set (the iss and aud API tokens must carry)',
    ]);
  }
  return config;
}

/** API and worker both need the read service's key: one signs each read it routes to a host, the other checks it. */
export function requireReadServiceSecret<T extends Config>(config: T): T {
  if (!config.READ_SERVICE_SECRET) {
    throw new ConfigError([
      'READ_SERVICE_SECRET: required by the API and the worker (the same on both; npm start generates one)',
    ]);
  }
  if (config.READ_SERVICE_SECRET === config.JWT_SECRET) {
    throw new ConfigError([
      "READ_SERVICE_SECRET: must differ from JWT_SECRET (a user token must never pass as the API's)",
    ]);
  }
  return config;
}

/** The token-less codec exception is a loopback one: it must not be reachable from another host. */
function checkCodecExposure(config: Config): void {
  if (!config.CODEC_REQUIRE_AUTH && !isLoopbackHost(config.HOST)) {
    throw new ConfigError([
      `CODEC_REQUIRE_AUTH: false is only allowed with HOST on loopback (127.0.0.1, ::1, localhost), not ${config.HOST}; unset it so /codec needs an operator token`,
    ]);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once. Every bad variable is reported together, by name, and
 * without its value (the value may be a secret).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const config = parsed.data;
  checkCodecExposure(config);
  return {
    ...config,
    DATA_DIR: path.resolve(config.DATA_DIR),
    SANDBOX_BASE_PATH: path.resolve(config.SANDBOX_BASE_PATH),
  };
}

/** For entry points: a bad environment ends the process with the list of problems. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  return exitOnConfigError(() => loadConfig(env));
}

/** For one-shot commands that work on the database only (migrations, key rotation). */
export function loadDatabaseConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config & { DATABASE_URL: string } {
  return exitOnConfigError(() => {
    const config = loadConfig(env);
    if (!config.DATABASE_URL) throw new ConfigError(['DATABASE_URL: required by this command']);
    return config as Config & { DATABASE_URL: string };
  });
}

/** For the production entry points, which use external PostgreSQL and Temporal only. */
export function loadConnectedConfigOrExit(
  env: NodeJS.ProcessEnv = process.env,
  check: (c: ConnectedConfig) => ConnectedConfig = (c) => c,
): ConnectedConfig {
  return exitOnConfigError(() => check(requireServices(loadConfig(env))));
}

function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
