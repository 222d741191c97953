import type { Logger } from '../config/logger.js';

export interface Service {
  name: string;
  stop(): Promise<void>;
  /** Settles if the service ends on its own (a crashed worker); the process then stops too. */
  done?: Promise<void>;
}

/** Everything must be down within this; past it the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 9000;

/**
 * Starts services in order (each registered as soon as it is up, so a failure half way still
 * stops what started) and stops them in reverse order on SIGINT/SIGTERM, on a fatal error,
 * or when one of them ends by itself.
 */
export async function runUntilSignal(
  logger: Logger,
  start: (register: (service: Service) => void) => Promise<void | Service[]>,
): Promise<void> {
  const services: Service[] = [];
  let stopping: Promise<void> | undefined;

  const stopAll = (reason: string, exitCode: number) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const deadline = setTimeout(() => {
        logger.error('shutdown took too long; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      for (const service of [...services].reverse()) {
        try {
          await service.stop();
          logger.debug({ service: service.name }, 'stopped');
        } catch (err) {
          logger.error({ service: service.name, err: { message: (err as Error).message } }, 'failed to stop cleanly');
          exitCode ||= 1;
        }
      }
      clearTimeout(deadline);
      process.exitCode = exitCode;
    })();
    return stopping;
  };

  const register = (service: Service) => {
    services.push(service);
    service.done?.then(
      () => {
        if (!stopping) void stopAll(`${service.name} stopped unexpectedly`, 1);
      },
      (err: Error) => {
        if (stopping) return;
        logger.error({ service: service.name, err: { message: err.message } }, 'service failed');
        void stopAll(`${service.name} failed`, 1);
      },
    );
  };

  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll(signal, 0));

  try {
    const started = await start(register);
    for (const service of started ?? []) register(service);
  } catch (err) {
    // The message is the whole story (what failed, what to do); a stack would bury it.
    logger.error(`start-up failed: ${(err as Error).message}`);
    await stopAll('start-up failed', 1);
  }
}
