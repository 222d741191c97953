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

/** Every activity the worker registers on the shared task queue. */
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

/** The activities that touch this host's files, registered on its host-specific task queue. */
export function createHostActivities(deps: ActivityDeps) {
  return mapFailures(createCleanupActivities(deps));
}

export type Activities = ReturnType<typeof createActivities>;

