import { pino, type Logger, type LoggerOptions } from 'pino';
import { activeTrace } from '../observability/trace-context.js';
import { maskDeep, maskString } from './masking.js';

export type { Logger };
export { maskSecret } from './masking.js';

export interface LoggerSettings {
  level: string;
  name?: string;
  /** Human-readable output; defaults to on when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * Every line goes through the design's masking (src/config/masking.ts) inside the logger
 * itself: the merged object deeply, the message and its interpolation arguments as strings.
 * No call site can forget it.
 */
const masking: Pick<LoggerOptions, 'formatters' | 'hooks'> = {
  formatters: {
    log: (object) => maskDeep(object) as Record<string, unknown>,
  },
  hooks: {
    logMethod(args, method) {
      const masked = args.map((a) => (typeof a === 'string' ? maskString(a) : maskDeep(a)));
      return method.apply(this, masked as Parameters<typeof method>);
    },
  },
};

export function createLogger(settings: LoggerSettings, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    ...masking,
    base: settings.name ? { service: settings.name } : {},
    // Each line written inside a traced request, workflow or activity names its trace.
    mixin: () => {
      const active = activeTrace();
      return active ? { trace_id: active.traceId, span_id: active.spanId } : {};
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination as pino.DestinationStream);
  const pretty = settings.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' },
      },
    });
  }
  return pino(options);
}
