import { Context } from '@temporalio/activity';
import { isDatabaseUnavailable } from '../db/client.js';

/** Long enough for a database restart or a failover; past it, the attempt fails as it would have. */
const MAX_WAIT_MS = 5 * 60_000;

/**
 * Runs a database step of a long activity (the clone), waiting out a database that cannot be
 * reached (backing off, heartbeating so the activity stays alive, cancellable) instead of
 * failing the attempt: a database blip is not a failed clone, and must not use up the retries
 * git's own failures are given, nor throw away a finished download.
 */
export async function waitingForDatabase<T>(
  step: () => Promise<T>,
  beat: () => void = () => Context.current().heartbeat(),
): Promise<T> {
  const deadline = Date.now() + MAX_WAIT_MS;
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 2000)) {
    try {
      return await step();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + delayMs > deadline) throw err;
      beat();
      await Context.current().sleep(delayMs);
    }
  }
}
