import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { encryptedDataConverter } from '../../src/crypto/payload-codec.js';
import { workflowTracingSinks } from '../../src/observability/tracing.js';
import { workflowInterceptorModules, WORKFLOWS_PATH } from '../../src/worker/workflow-code.js';
import { FIXTURE_MASTER_ENCRYPTION_KEY } from '../histories/fixture-key.js';
import { historyFromJson, readHistory } from './history-file.js';

/**
 * Every recorded history (test/histories/*.json, real runs of the workflows' paths) replayed
 * against today's workflow code: a change that would break runs already open fails here.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

const HISTORIES = fileURLToPath(new URL('../histories/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const files = readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .sort();

/** As production runs them: traced (with the tracing interceptors) or not; with the fixture's interceptor when a check adds one. */
const options = (traced: boolean, interceptorModule?: string): ReplayWorkerOptions => ({
  workflowsPath: WORKFLOWS_PATH,
  dataConverter: encryptedDataConverter(
    createLocalKeyProvider(Buffer.from(FIXTURE_MASTER_ENCRYPTION_KEY, 'base64'), []),
  ),
  interceptors: {
    workflowModules: [
      ...workflowInterceptorModules(traced),
      ...(interceptorModule ? [path.join(FIXTURES, interceptorModule)] : []),
    ],
  },
  sinks: workflowTracingSinks(),
});

/** Replays every history in one replay worker; the error (if any) each one ended with, by file. */
async function replayAll(o: ReplayWorkerOptions): Promise<Map<string, Error | undefined>> {
  const histories = files.map((file) => ({ workflowId: file, history: readHistory(path.join(HISTORIES, file)) }));
  const results = new Map<string, Error | undefined>();
  for await (const r of Worker.runReplayHistories(o, histories)) results.set(r.workflowId, r.error);
  return results;
}

/** The paths a change must keep working; each needs its recorded history. */
const REQUIRED = [
  'completed-then-cleanup-signal',
  'completed-then-ttl-cleanup',
  'rejected-401',
  'rejected-413',
  'transient-503-then-completed',
  'failed-retry-new-token-completed',
  'failed-too-large-retried',
  'cleanup-during-clone',
  'disconnected-during-clone',
  'host-lost-cleanup',
  'probe-host-busy-clone-elsewhere',
  'reconcile-repositories',
  // Recorded with the code before admission's quick steps became local activities (patch admission-local-activities).
  'v0-admission-activities-completed-then-cleanup-signal',
  'v0-admission-activities-failed-retry-new-token-completed',
  // Recorded under Temporal's OpenTelemetry interceptors (SDK flag 6: updates, queries and timers traced too).
  'traced-completed-then-cleanup-signal',
  'traced-failed-retry-new-token-completed',
  // A sync that succeeded and one over the limit (the sync signal, its activity on the clone's host, markSyncFailed).
  'completed-synced-sync-too-large-then-cleanup',
  // Scheduled syncs (patch sync-schedule-and-bounds), one workflow's three runs: timers, a refused token needing attention and
  // continue-as-new; a continued run taking the retry (its token encrypted in the update, resumeSyncs, a sync at once); the cleanup.
  'scheduled-syncs-first-run',
  'scheduled-syncs-retried-run',
  'scheduled-syncs-last-run',
];

interface HistoryEvent {
  eventId: string;
  eventType: string;
  [attributes: string]: unknown;
}

/**
 * completed-then-cleanup-signal as it is had a worker without syncs (no handler: no command)
 * received a sync signal while the clone was kept: the signal, and a workflow task that did nothing.
 */
function withSyncSignalToAnOldWorker(): unknown {
  const { events } = JSON.parse(readFileSync(path.join(HISTORIES, 'completed-then-cleanup-signal.json'), 'utf8')) as {
    events: HistoryEvent[];
  };
  const at = events.findIndex(
    (e) =>
      e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' && JSON.stringify(e).includes('"signalName":"cleanup"'),
  );
  const cleanup = events[at]!;
  const [scheduled, started, completed] = events.slice(at + 1, at + 4);
  const firstId = Number(cleanup.eventId);
  // Every id from the insertion on, and every reference to one (scheduledEventId, ...), moves up by the four events inserted.
  const shifted = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value), (key, v: unknown) =>
      (key === 'eventId' || key.endsWith('EventId')) && typeof v === 'string' && Number(v) >= firstId
        ? String(Number(v) + 4)
        : v,
    );
  const signal = {
    ...cleanup,
    workflowExecutionSignaledEventAttributes: { signalName: 'sync', input: {}, identity: 'old-worker', header: {} },
  };
  return {
    events: [
      ...events.slice(0, at),
      signal,
      scheduled,
      started,
      completed,
      ...(shifted(events.slice(at)) as HistoryEvent[]),
    ],
  };
}

describe('replaying recorded histories', () => {
  // Tracing on and off: a run started by a worker of either kind goes on under a worker of the other.
  let today: Record<'traced' | 'untraced', Map<string, Error | undefined>>;
  beforeAll(async () => {
    today = { traced: await replayAll(options(true)), untraced: await replayAll(options(false)) };
  });

  it('has a recorded history for every path', () => {
    expect(files.map((f) => f.replace(/\.json$/, ''))).toEqual(expect.arrayContaining(REQUIRED));
  });

  it.each(files)("%s replays against today's workflow code, traced and not", (file) => {
    for (const run of [today.traced, today.untraced]) {
      expect(run.has(file)).toBe(true);
      expect(run.get(file)).toBeUndefined();
    }
  });

  it('a sync signal an older worker received (and did nothing with) replays with no command', async () => {
    for (const traced of [true, false]) {
      const results = Worker.runReplayHistories(options(traced), [
        { workflowId: 'old-worker-sync', history: historyFromJson(withSyncSignalToAnOldWorker()) },
      ]);
      for await (const r of results) expect(r.error).toBeUndefined();
    }
  });

  it('fails on a change made without versioning: an activity call before the clone', async () => {
    const results = await replayAll(options(true, 'unversioned-step-before-clone.ts'));
    // Every run that reached its clone now disagrees with its history; the rejected ones, the reconciler and runs continued
    // as new (which start with the clone kept) never got there.
    const broken = [...results]
      .filter(([, err]) => err instanceof DeterminismViolationError)
      .map(([file]) => file)
      .sort();
    expect(broken).toEqual(files.filter((f) => !/^(rejected-|reconcile-|scheduled-syncs-(retried|last)-run)/.test(f)));
    expect(results.get('rejected-401.json')).toBeUndefined();
  });

  it('passes with the same change behind patched()', async () => {
    const results = await replayAll(options(true, 'patched-step-before-clone.ts'));
    expect([...results].filter(([, err]) => err !== undefined)).toEqual([]);
  });
});
