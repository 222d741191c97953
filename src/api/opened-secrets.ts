import { localBuckets } from './local-rate-limit.js';
import type { RateLimitSettings } from './rate-limit.js';

/** Who a secret belongs to, and the stored form it is opened from (a re-wrap or a disconnect changes it). */
export interface SecretKey {
  repoId: string;
  projectId: string;
  from: string;
}

export interface OpenedSecretsOptions {
  /** How long an opened secret is kept. */
  ttlMs: number;
  /** Secrets kept at most in each tier (verified, and opened but never verified). */
  max: number;
  /** Key-service calls per repository, per project, and for the whole process. */
  budgets: { repository: RateLimitSettings; project: RateLimitSettings; process: RateLimitSettings };
  now?: () => number;
}

interface Entry {
  from: string;
  secret: string;
  until: number;
}

/**
 * The webhook secrets this process has opened, so a flood of deliveries costs an HMAC each, not a
 * key-service call each. Misses are single-flight (concurrent deliveries of one repository share
 * one call) and drawn from three budgets: the repository's, its project's, and the process's, so
 * one tenant's many repositories cannot spend every other tenant's key-service calls. Secrets a
 * verified delivery used are kept apart from those only opened (what a forger's misses fill), and
 * evicted last: a forger cycling through repositories evicts only its own.
 */
export function openedSecrets(o: OpenedSecretsOptions) {
  const now = o.now ?? Date.now;
  const verified = new Map<string, Entry>();
  const unverified = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<string>>();
  const byRepository = localBuckets(o.budgets.repository, now);
  const byProject = localBuckets(o.budgets.project, now);
  const byProcess = localBuckets(o.budgets.process, now);
  const flightKey = (k: SecretKey) => `${k.repoId}\0${k.from}`;

  /** Inserts as the most recent entry, dropping the oldest past `max`. */
  const keep = (tier: Map<string, Entry>, repoId: string, entry: Entry) => {
    tier.delete(repoId);
    tier.set(repoId, entry);
    for (const oldest of tier.keys()) {
      if (tier.size <= o.max) break;
      tier.delete(oldest);
    }
  };
  const fresh = (entry: Entry | undefined, from: string) =>
    entry && entry.from === from && entry.until > now() ? entry : undefined;

  return {
    /** The repository's secret, opened by `open` if need be; throws the 429 when a budget is spent. */
    async secretOf(key: SecretKey, open: () => Promise<string>): Promise<string> {
      const hit = fresh(verified.get(key.repoId), key.from) ?? fresh(unverified.get(key.repoId), key.from);
      if (hit) return hit.secret;
      const pending = inFlight.get(flightKey(key));
      if (pending) return pending;
      byRepository.take(key.repoId);
      byProject.take(key.projectId);
      byProcess.take('process');
      const opening = open()
        .then((secret) => {
          verified.delete(key.repoId);
          keep(unverified, key.repoId, { from: key.from, secret, until: now() + o.ttlMs });
          return secret;
        })
        .finally(() => inFlight.delete(flightKey(key)));
      inFlight.set(flightKey(key), opening);
      return opening;
    },
    /** A delivery verified with the repository's secret: kept among the secrets real senders use. */
    verifiedWith(key: SecretKey): void {
      const entry = fresh(unverified.get(key.repoId), key.from) ?? fresh(verified.get(key.repoId), key.from);
      if (!entry) return;
      unverified.delete(key.repoId);
      keep(verified, key.repoId, entry);
    },
    /** Secrets held now, by tier (for tests and metrics). */
    size: () => ({ verified: verified.size, unverified: unverified.size }),
  };
}
