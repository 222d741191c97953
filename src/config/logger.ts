import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * The design's masking format: the first and last four characters of a long secret, `***`
 * for a short one, so operators can tell two tokens apart without being able to use either.
 */
export function maskSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length <= 8) return '***';
  return `${value.slice(0, 4)}...${value.slice(-4)}`;
}

/** Field names that carry secrets wherever they appear in a log object (one level of nesting). */
const SECRET_KEYS = [
  'access_token',
  'accessToken',
  'token',
  'password',
  'secret',
  'authorization',
  'Authorization',
  'JWT_SECRET',
  'MASTER_ENCRYPTION_KEY',
  'DATABASE_URL',
  'databaseUrl',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerSettings {
  level: string;
  name?: string;
  /** Human-readable output; defaults to on when stdout is a terminal. */
  pretty?: boolean;
}

export function createLogger(settings: LoggerSettings, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    redact: { paths: REDACT_PATHS, censor: (value) => maskSecret(value) },
    base: settings.name ? { service: settings.name } : {},
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination as pino.DestinationStream);
  const pretty = settings.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } },
    });
  }
  return pino(options);
}
