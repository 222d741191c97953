import { createCloneRepository } from './clone-repository.js';
import type { ActivityDeps } from './deps.js';
import { createEncryptToken } from './encrypt-token.js';
import { withFailureMapping } from './failures.js';
import { createPersistActivities } from './persist-repository.js';

export type { ActivityDeps } from './deps.js';

/** Every activity the worker registers, with domain errors mapped to typed Temporal failures. */
export function createActivities(deps: ActivityDeps) {
  const raw = {
    encryptToken: createEncryptToken(deps),
    ...createPersistActivities(deps),
    cloneRepository: createCloneRepository(deps),
  };
  type Raw = typeof raw;
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(raw) as Array<[keyof Raw, (input: never) => Promise<unknown>]>) {
    wrapped[name] = (input: never) => withFailureMapping(() => fn(input));
  }
  return wrapped as Raw;
}

export type Activities = ReturnType<typeof createActivities>;
