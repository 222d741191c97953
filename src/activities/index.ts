import type { Attributes } from '@opentelemetry/api';
import { inSpan } from '../observability/trace-context.js';
import { createCheckRepositorySize } from './check-size.js';
import { createCleanupActivities } from './cleanup.js';
import { createCloneRepository } from './clone-repository.js';
import type { ActivityDeps } from './deps.js';
import { createEncryptToken } from './encrypt-token.js';
import { withFailureMapping } from './failures.js';
import { createPersistActivities } from './persist-repository.js';
import { createReconcileActivities } from './reconcile.js';
import { createRetentionActivities } from './retention.js';
import { createSyncActivities } from './sync-repository.js';

export type { ActivityDeps, ActivitySettings } from './deps.js';

/** The design's span names, for the activities it names; every activity also has Temporal's `RunActivity:<name>` span. */
const DESIGN_SPANS: Record<string, string> = {
  encryptToken: 'token-encryption',
  checkRepositorySize: 'size-validation',
  persistRepository: 'db-insert',
  cloneRepository: 'git-clone',
  cleanupSandbox: 'sandbox-cleanup',
};

/** What a span may say about an activity's input and result: ids and sizes, never a token or a URL. */
const SPAN_ATTRIBUTES = {
  repoId: 'repo.id',
  projectId: 'project.id',
  estimatedSizeMb: 'repo.estimated_size_mb',
  repositorySizeMb: 'repo.size_mb',
  fileCount: 'repo.files',
  bytesReceived: 'repo.bytes_received',
} as const;

function attributesOf(value: unknown): Attributes {
  const attributes: Attributes = {};
  if (typeof value !== 'object' || value === null) return attributes;
  for (const [field, attribute] of Object.entries(SPAN_ATTRIBUTES)) {
    const v = (value as Record<string, unknown>)[field];
    if (typeof v === 'string' || typeof v === 'number') attributes[attribute] = v;
  }
  return attributes;
}

/** Wraps each activity: its design span (if it has one), and its domain errors mapped to typed Temporal failures. */
function instrument<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const span = DESIGN_SPANS[name];
    wrapped[name] = span
      ? (input: never) =>
          withFailureMapping(() =>
            inSpan(span, attributesOf(input), async (s) => {
              const result = await fn(input);
              s.setAttributes(attributesOf(result));
              return result;
            }),
          )
      : (input: never) => withFailureMapping(() => fn(input));
  }
  return wrapped as T;
}

/** Every activity; each queue a worker polls registers them all, and the workflow's routing decides what runs where. */
export function createActivities(deps: ActivityDeps) {
  return instrument({
    encryptToken: createEncryptToken(deps),
    checkRepositorySize: createCheckRepositorySize(deps),
    ...createPersistActivities(deps),
    cloneRepository: createCloneRepository(deps),
    ...createCleanupActivities(deps),
    ...createSyncActivities(deps),
    ...createReconcileActivities(deps),
    ...createRetentionActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
