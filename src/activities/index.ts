import { createCheckRepositorySize } from './check-size.js';
import { createCleanupActivities } from './cleanup.js';
import { createCloneRepository } from './clone-repository.js';
import type { ActivityDeps } from './deps.js';
import { createEncryptToken } from './encrypt-token.js';
import { withFailureMapping } from './failures.js';
import { createPersistActivities } from './persist-repository.js';
import { createReconcileActivities } from './reconcile.js';

export type { ActivityDeps, ActivitySettings } from './deps.js';

/** Maps each activity's domain errors to typed Temporal failures. */
function mapFailures<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (input: never) => withFailureMapping(() => fn(input));
  }
  return wrapped as T;
}

/** Every activity; each queue a worker polls registers them all, and the workflow's routing decides what runs where. */
export function createActivities(deps: ActivityDeps) {
  return mapFailures({
    encryptToken: createEncryptToken(deps),
    checkRepositorySize: createCheckRepositorySize(deps),
    ...createPersistActivities(deps),
    cloneRepository: createCloneRepository(deps),
    ...createCleanupActivities(deps),
    ...createReconcileActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;

