import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Activities } from '../../src/activities/index.js';
import {
  admissionUpdate,
  cleanupSignal,
  cloneProgressSignal,
  fingerprintOf,
  getStateQuery,
  retrySignal,
  retryUpdate,
  syncSignal,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
} from '../../src/shared/connect-repository.js';
import { asKeywords } from '../../src/runtime/search-attributes.js';
import { admissionQueueOf, cloneQueueOf, syncQueueOf } from '../../src/shared/task-queues.js';
import { workflowTracingSinks } from '../../src/observability/tracing.js';
import { bundleWorkflows } from '../../src/worker/workflow-code.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { encryptedDataConverter } from '../../src/crypto/payload-codec.js';
import { timeSkippingEnvironment } from '../support/time-skipping.js';

/**
 * The workflow's decisions, on Temporal's time-skipping test server with mocked activities:
 * a day's TTL or a 10-minute schedule-to-start passes at once. The integration tests prove the
 * real activities; these prove what the workflow does with their outcomes, in every stage.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

let env: TestWorkflowEnvironment;
let workflowBundle: { code: string };
/** As production: payloads and failures encrypted (a local key stands in for KMS). */
const dataConverter = encryptedDataConverter(createLocalKeyProvider(randomBytes(32)));

beforeAll(async () => {
  env = await timeSkippingEnvironment(dataConverter);
  // The test server cannot list search attributes (so the worker's own check cannot run), but registers them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: asKeywords(),
  });
  // The bundle `npm run build` makes for production workers (tracing off), built the same way.
  workflowBundle = { code: await bundleWorkflows({ traced: false, logger: new DefaultLogger('WARN') }) };
});

afterAll(async () => {
  await env?.teardown();
});

interface Call {
  activity: string;
  queue: string;
  input: any;
}

interface Queues {
  workflow: string;
  admission: string;
  clone: string;
  /** A host's own queue (cleanup of its files, a clone deepening its probe). */
  host(name: string): string;
  /** A host's sync queue. */
  sync(name: string): string;
}

type Mocks = Partial<Record<keyof Activities, (input: any) => Promise<unknown>>>;

/** What each activity does unless a test says otherwise: admits, clones on host `a`, cleans up. */
const defaults = (q: Queues): Mocks => ({
  encryptToken: async () => ({ tokenCiphertext: 'ZW5j', tokenKid: 'kid-1' }),
  checkRepositorySize: async () => ({ tipSizeMb: 1, estimatedSizeMb: 1.5, refs: 2, probeHostTaskQueue: q.host('a') }),
  persistRepository: async (i) => ({
    repoId: i.repoId,
    gitUrl: i.gitUrl,
    cloneStatus: 'PENDING',
    estimatedSizeMb: i.estimatedSizeMb,
    createdAt: '2026-11-26T00:00:00Z',
    runId: i.runId,
  }),
  cloneRepository: async (i) => ({
    sandboxPath: `/sandbox/${i.repoId}`,
    repositorySizeMb: 2,
    fileCount: 3,
    hostTaskQueue: q.host('a'),
  }),
  markRepositoryFailed: async () => {},
  markRepositoryCleaning: async () => {},
  cleanupSandbox: async () => {},
  sweepSandboxes: async () => ({ removed: [] }),
  resetRepositoryForRetry: async () => {},
  recordIgnoredSignal: async () => {},
});

const input = (sandboxTtlSeconds = 86_400): ConnectRepositoryInput => ({
  requestId: randomUUID(),
  correlationId: 'corr-1',
  userId: 'user-1',
  projectId: randomUUID(),
  gitUrl: 'https://git.example/team/repo.git',
  sealedToken: { ciphertext: 'c2VhbGVk', keyId: 'kid-1' },
  sandboxTtlSeconds,
  requestFingerprint: 'fp',
});

/**
 * Runs `scenario` with workers on the workflow's queue, its admission and clone queues, and the
 * queues of `hosts` (a host not listed is one that is gone), each recording the calls it runs.
 */
async function withWorkers(
  options: { hosts?: string[]; mocks?: (q: Queues, calls: Call[]) => Mocks },
  scenario: (t: {
    q: Queues;
    calls: Call[];
    start(i?: ConnectRepositoryInput): Promise<ReturnType<typeof env.client.workflow.getHandle>>;
  }) => Promise<void>,
): Promise<Call[]> {
  const workflow = `wf-${randomUUID()}`;
  const q: Queues = {
    workflow,
    admission: admissionQueueOf(workflow),
    clone: cloneQueueOf(workflow),
    host: (name) => `${workflow}-host-${name}`,
    sync: (name) => syncQueueOf(`${workflow}-host-${name}`),
  };
  const calls: Call[] = [];
  const mocks = { ...defaults(q), ...options.mocks?.(q, calls) };
  const activities = Object.fromEntries(
    Object.entries(mocks).map(([name, fn]) => [
      name,
      async (i: unknown) => {
        calls.push({ activity: name, queue: Context.current().info.taskQueue, input: i });
        return fn(i);
      },
    ]),
  );
  const queues = [q.admission, q.clone, ...(options.hosts ?? ['a']).flatMap((h) => [q.host(h), q.sync(h)])];
  // As in production (create-worker.ts): heartbeats go out often, so a cancellation reaches a running clone at once.
  const common = {
    connection: env.nativeConnection,
    activities,
    dataConverter,
    maxHeartbeatThrottleInterval: '100 milliseconds',
  };
  const workers = [
    await Worker.create({ ...common, taskQueue: workflow, workflowBundle, sinks: workflowTracingSinks() }),
    ...(await Promise.all(queues.map((taskQueue) => Worker.create({ ...common, taskQueue })))),
  ];
  const runs = workers.map((w) => w.run());
  try {
    await scenario({
      q,
      calls,
      async start(i = input()) {
        const handle = await env.client.workflow.start('connectRepository', {
          args: [i],
          taskQueue: workflow,
          workflowId: `connect-${i.requestId}`,
        });
        await handle.executeUpdate(admissionUpdate, { args: [fingerprintOf(i)] });
        return handle;
      },
    });
  } finally {
    workers.forEach((w) => w.shutdown());
    await Promise.all(runs);
  }
  return calls;
}

/** Waits (bounded) until the run's live state satisfies `ready`. */
const stateOf = (
  handle: { query: (q: typeof getStateQuery) => Promise<ConnectRepositoryState> },
  ready: (s: ConnectRepositoryState) => boolean,
) =>
  vi.waitFor(
    async () => {
      const state = await handle.query(getStateQuery);
      if (!ready(state)) throw new Error(`not yet: ${state.stage}`);
      return state;
    },
    { timeout: 10_000, interval: 50 },
  );

/** A clone that runs until it is cancelled, heartbeating (which is how the cancellation reaches it). */
const cloningUntilCancelled = (): Mocks => ({
  cloneRepository: async () => {
    const ctx = Context.current();
    for (;;) {
      ctx.heartbeat();
      await ctx.sleep(50);
    }
  },
});

const named = (calls: Call[], activity: string) => calls.filter((c) => c.activity === activity);
const failure = (type: string, details?: Record<string, unknown>) =>
  ApplicationFailure.create({
    type,
    message: `${type} (mocked)`,
    nonRetryable: true,
    ...(details ? { details: [details] } : {}),
  });

describe('connectRepository', () => {
  it('admits, clones on the host that kept the probe, and cleans up there on the cleanup signal', async () => {
    const calls = await withWorkers({}, async ({ q, calls, start }) => {
      const handle = await start();
      const done = await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
      expect(done).toMatchObject({
        stage: 'ready',
        progressPercent: 100,
        cloneAttempts: 1,
        repositorySizeMb: 2,
      });
      await handle.signal(cleanupSignal);
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED', repositorySizeMb: 2 });
      expect(named(calls, 'cloneRepository').map((c) => c.queue)).toEqual([q.host('a')]);
      expect(named(calls, 'cleanupSandbox')).toMatchObject([{ queue: q.host('a'), input: { reason: 'signal' } }]);
    });
    // Admission's encryption and insert ran in the workflow's worker (local activities); the probe on the admission queue.
    expect(calls.map((c) => c.activity)).toEqual([
      'encryptToken',
      'checkRepositorySize',
      'persistRepository',
      'cloneRepository',
      'markRepositoryCleaning',
      'cleanupSandbox',
    ]);
    expect(calls.slice(0, 3).map((c) => c.queue)).toEqual([
      calls[0]!.queue,
      admissionQueueOf(calls[0]!.queue),
      calls[0]!.queue,
    ]);
  });

  it("progress signals carry bytes and rate into the state; a signal without a rate reads null; the clone's end keeps its bytes, not its rate", async () => {
    let released = false;
    const mocks = (q: Queues): Mocks => ({
      cloneRepository: async (i) => {
        const ctx = Context.current();
        while (!released) {
          ctx.heartbeat();
          await ctx.sleep(50);
        }
        return {
          sandboxPath: `/sandbox/${i.repoId}`,
          repositorySizeMb: 2,
          fileCount: 3,
          hostTaskQueue: q.host('a'),
          bytesReceived: 4096,
        };
      },
    });
    await withWorkers({ mocks }, async ({ start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.stage === 'cloning');
      await handle.signal(cloneProgressSignal, { stage: 'receiving', percent: 50, bytes: 2048, bytesPerSecond: 1024 });
      expect(await stateOf(handle, (s) => s.bytesReceived === 2048)).toMatchObject({
        bytesPerSecond: 1024,
        progressPercent: 60,
      });
      // As a clone activity of before the rate sends it.
      await handle.signal(cloneProgressSignal, { stage: 'receiving', percent: 75, bytes: 3072 });
      expect(await stateOf(handle, (s) => s.bytesReceived === 3072)).toMatchObject({
        bytesPerSecond: null,
        progressPercent: 80,
      });
      await handle.signal(cloneProgressSignal, { stage: 'receiving', percent: 80, bytes: 3584, bytesPerSecond: 2048 });
      await stateOf(handle, (s) => s.bytesPerSecond === 2048);
      released = true;
      expect(await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED')).toMatchObject({
        bytesReceived: 4096,
        bytesPerSecond: null,
        progressPercent: 100,
      });
      await handle.signal(cleanupSignal);
      await handle.result();
    });
  });

  it('cleans up by itself when the TTL runs out', async () => {
    await withWorkers({}, async ({ q, calls, start }) => {
      const handle = await start(input(86_400));
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
      expect(named(calls, 'cleanupSandbox')).toMatchObject([{ queue: q.host('a'), input: { reason: 'ttl' } }]);
    });
  });

  it('a rejection at admission fails the update and the run, and nothing is persisted', async () => {
    await withWorkers(
      {
        mocks: () => ({
          checkRepositorySize: async () => {
            throw failure('invalid_credentials');
          },
        }),
      },
      async ({ calls, q }) => {
        const i = input();
        const handle = await env.client.workflow.start('connectRepository', {
          args: [i],
          taskQueue: q.workflow,
          workflowId: `connect-${i.requestId}`,
        });
        const rejected = await handle
          .executeUpdate(admissionUpdate, { args: [fingerprintOf(i)] })
          .catch((err: unknown) => err);
        expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((rejected as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'invalid_credentials' });
        await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
        expect(named(calls, 'persistRepository')).toEqual([]);
        // The workflow's own failure reached history through the bundle's failure converter: encrypted, message and all.
        const raw = JSON.stringify(await handle.fetchHistory());
        expect(raw).not.toContain('invalid_credentials (mocked)');
        expect(raw).toContain('Encoded failure');
        expect(named(calls, 'cloneRepository')).toEqual([]);
      },
    );
  });

  it('a failed clone waits for retry; a retry with a new token encrypts it, resets the row and clones again', async () => {
    let clones = 0;
    const mocks = (q: Queues): Mocks => ({
      cloneRepository: async (i) => {
        if (++clones === 1) throw failure('invalid_credentials');
        return { sandboxPath: `/sandbox/${i.repoId}`, repositorySizeMb: 2, fileCount: 3, hostTaskQueue: q.host('a') };
      },
    });
    await withWorkers({ mocks }, async ({ calls, start }) => {
      const handle = await start();
      const failed = await stateOf(handle, (s) => s.cloneStatus === 'FAILED');
      expect(failed).toMatchObject({ stage: 'failed', error: { code: 'invalid_credentials' } });
      expect(named(calls, 'markRepositoryFailed')).toMatchObject([{ input: { errorCode: 'invalid_credentials' } }]);
      const newToken = { ciphertext: 'bmV3', keyId: 'kid-1' };
      await handle.signal(retrySignal, { sealedToken: newToken });
      expect(await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED')).toMatchObject({
        cloneAttempts: 2,
        error: null,
      });
      expect(named(calls, 'encryptToken').map((c) => c.input.sealedToken)).toEqual([input().sealedToken, newToken]);
      expect(named(calls, 'resetRepositoryForRetry')).toMatchObject([
        { input: { newToken: { tokenCiphertext: 'ZW5j' } } },
      ]);
      await handle.signal(cleanupSignal);
      await handle.result();
    });
  });

  it('a too-large failure: the retry probes again, and a repository still over the limit is refused at once', async () => {
    let probes = 0;
    const mocks = (q: Queues): Mocks => ({
      checkRepositorySize: async () => {
        if (++probes > 1) throw failure('repository_too_large', { estimated_size_mb: 120, limit_mb: 100 });
        return { tipSizeMb: 1, estimatedSizeMb: 1.5, refs: 2, probeHostTaskQueue: q.host('a') };
      },
      cloneRepository: async () => {
        throw failure('repository_too_large');
      },
    });
    await withWorkers({ mocks }, async ({ calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.cloneStatus === 'FAILED');
      const refused = await handle.executeUpdate(retryUpdate, { args: [{}] }).catch((err: unknown) => err);
      expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'repository_too_large' });
      expect(await handle.query(getStateQuery)).toMatchObject({ stage: 'failed', cloneAttempts: 1 });
      expect(named(calls, 'cloneRepository')).toHaveLength(1);
      await handle.signal(cleanupSignal);
      await handle.result();
    });
  });

  it('a FAILED run nobody retries ends failed when the TTL runs out, without a cleanup', async () => {
    await withWorkers(
      {
        mocks: () => ({
          cloneRepository: async () => {
            throw failure('repository_not_found');
          },
        }),
      },
      async ({ calls, start }) => {
        const handle = await start();
        const err = await handle.result().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'repository_not_found' });
        expect(named(calls, 'cleanupSandbox')).toEqual([]);
      },
    );
  });

  it('cleanup during a clone cancels it, then removes the sandbox from any host', async () => {
    await withWorkers({ mocks: cloningUntilCancelled }, async ({ q, calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.stage === 'cloning');
      await handle.signal(cleanupSignal);
      // Waited for in real time: while a result is awaited the server skips time, and the running clone's heartbeat timeout with it.
      await stateOf(handle, (s) => s.stage === 'done');
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
      // No clone finished, so no host holds the files: the cleanup goes to any worker.
      expect(named(calls, 'cleanupSandbox')).toMatchObject([{ queue: q.admission, input: { reason: 'signal' } }]);
    });
  });

  it('signals that make no sense in the stage are ignored, and recorded', async () => {
    await withWorkers({}, async ({ calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
      await handle.signal(retrySignal, {});
      await vi.waitFor(() => expect(named(calls, 'recordIgnoredSignal')).toHaveLength(1), { timeout: 10_000 });
      expect(named(calls, 'recordIgnoredSignal')[0]!.input).toMatchObject({
        signal: 'retry',
        stage: 'ready',
      });
      await handle.signal(cleanupSignal);
      await handle.signal(cleanupSignal);
      await handle.result();
      expect(named(calls, 'recordIgnoredSignal').map((c) => c.input.signal)).toEqual(['retry', 'cleanup']);
      expect(named(calls, 'cleanupSandbox')).toHaveLength(1);
    });
  });

  it("a clone out of disk sweeps that host's expired sandboxes, then clones once more", async () => {
    let clones = 0;
    const mocks = (q: Queues): Mocks => ({
      cloneRepository: async (i) => {
        if (++clones === 1) throw failure('insufficient_storage', { host_task_queue: q.host('a') });
        return { sandboxPath: `/sandbox/${i.repoId}`, repositorySizeMb: 2, fileCount: 3, hostTaskQueue: q.host('a') };
      },
    });
    await withWorkers({ mocks }, async ({ q, calls, start }) => {
      const handle = await start();
      expect(await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED')).toMatchObject({ cloneAttempts: 2 });
      expect(named(calls, 'sweepSandboxes')).toMatchObject([{ queue: q.host('a'), input: { expired: true } }]);
      expect(named(calls, 'markRepositoryFailed')).toEqual([]);
      await handle.signal(cleanupSignal);
      await handle.result();
    });
  });

  it("cancelled mid-clone (the Web UI's Request Cancellation): removes what it made, ends cancelled", async () => {
    await withWorkers({ mocks: cloningUntilCancelled }, async ({ calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.stage === 'cloning');
      await handle.cancel();
      await stateOf(handle, (s) => s.stage === 'done');
      const err = await handle.result().catch((e: unknown) => e);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(named(calls, 'markRepositoryCleaning')).toMatchObject([{ input: { reason: 'cancelled' } }]);
      expect(named(calls, 'cleanupSandbox')).toMatchObject([{ input: { reason: 'cancelled' } }]);
    });
  });

  it("sync runs on the clone's host; requests during one coalesce into one more; a failed sync keeps the clone COMPLETED", async () => {
    let release: (() => void) | undefined;
    let outcome: 'ok' | 'too_large' = 'ok';
    const mocks = (): Mocks => ({
      syncRepository: async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        release = undefined;
        if (outcome === 'too_large') throw failure('repository_too_large');
        return { headCommit: 'b'.repeat(40), changed: true, repositorySizeMb: 3, fileCount: 4, bytesReceived: 10 };
      },
      markSyncFailed: async () => {},
    });
    await withWorkers({ mocks }, async ({ q, calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
      await handle.signal(syncSignal, {});
      await stateOf(handle, (s) => s.stage === 'syncing');
      await vi.waitFor(() => expect(release).toBeDefined(), { timeout: 10_000 });
      for (const _ of [1, 2, 3]) await handle.signal(syncSignal, {});
      release!();
      await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(2), { timeout: 10_000 });
      await vi.waitFor(() => expect(release).toBeDefined(), { timeout: 10_000 });
      release!();
      expect(await stateOf(handle, (s) => s.stage === 'ready')).toMatchObject({
        cloneStatus: 'COMPLETED',
        repositorySizeMb: 3,
        progressPercent: 100,
        error: null,
      });
      expect(named(calls, 'syncRepository').map((c) => c.queue)).toEqual([q.sync('a'), q.sync('a')]);

      outcome = 'too_large';
      await handle.signal(syncSignal, {});
      await vi.waitFor(() => expect(release).toBeDefined(), { timeout: 10_000 });
      release!();
      const failed = await stateOf(handle, (s) => s.stage === 'ready' && s.error !== null);
      expect(failed).toMatchObject({ cloneStatus: 'COMPLETED', error: { code: 'repository_too_large' } });
      expect(named(calls, 'markSyncFailed')).toMatchObject([{ input: { errorCode: 'repository_too_large' } }]);
      expect(named(calls, 'markRepositoryFailed')).toHaveLength(0);
      await handle.signal(cleanupSignal);
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
    });
  });

  it('cleanup during a sync cancels it, then removes the sandbox on its host', async () => {
    const mocks = (): Mocks => ({ syncRepository: cloningUntilCancelled().cloneRepository! });
    await withWorkers({ mocks }, async ({ q, calls, start }) => {
      const handle = await start();
      await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
      await handle.signal(syncSignal, {});
      await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(1), { timeout: 10_000 });
      await handle.signal(cleanupSignal);
      await stateOf(handle, (s) => s.stage === 'done');
      expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
      expect(named(calls, 'cleanupSandbox')).toMatchObject([{ queue: q.host('a'), input: { reason: 'signal' } }]);
      expect(named(calls, 'markSyncFailed')).toHaveLength(0);
    });
  });

  it('a sync asked for before the clone is kept is ignored, and recorded', async () => {
    await withWorkers(
      {
        mocks: () => ({
          cloneRepository: async () => {
            throw failure('git_failed');
          },
        }),
      },
      async ({ calls, start }) => {
        const handle = await start();
        await stateOf(handle, (s) => s.stage === 'failed');
        await handle.signal(syncSignal, {});
        await vi.waitFor(
          () =>
            expect(named(calls, 'recordIgnoredSignal')).toMatchObject([{ input: { signal: 'sync', stage: 'failed' } }]),
          { timeout: 10_000 },
        );
        expect(named(calls, 'syncRepository')).toHaveLength(0);
        await handle.signal(cleanupSignal);
        await handle.result();
      },
    );
  });

  describe('scheduled syncs', () => {
    const synced = { headCommit: 'c'.repeat(40), changed: true, repositorySizeMb: 3, fileCount: 4, bytesReceived: 10 };
    const scheduled = (over: Partial<ConnectRepositoryInput> = {}): ConnectRepositoryInput => ({
      ...input(),
      syncIntervalSeconds: 60,
      syncFailureLimit: 3,
      syncsPerRun: 2,
      ...over,
    });
    /** Syncs the Git server refuses the token of, each held until the test releases it. */
    const refusedWhenReleased = () => {
      let hold: (() => void) | undefined;
      return {
        mocks: (): Mocks => ({
          syncRepository: async () => {
            await new Promise<void>((resolve) => {
              hold = resolve;
            });
            hold = undefined;
            throw failure('invalid_credentials');
          },
          markSyncFailed: async () => {},
        }),
        held: () => hold !== undefined,
        release: () => hold!(),
      };
    };
    /** Past the next scheduled sync: the test server moves its clock on (activities still run in real time). */
    const nextInterval = () => env.sleep('61 seconds');

    it('syncs on a durable timer; after SYNCS_PER_RUN syncs the run continues as new with its state intact, and syncs on', async () => {
      const mocks = (): Mocks => ({ syncRepository: async () => synced, markSyncFailed: async () => {} });
      await withWorkers({ mocks }, async ({ q, calls, start }) => {
        const first = scheduled();
        const handle = await start(first);
        const kept = await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED' && s.syncs?.nextSyncAt !== null);
        expect(kept.syncs).toMatchObject({ count: 0, intervalSeconds: 60, continuedAsNew: 0 });
        const firstRun = (await handle.describe()).runId;

        await nextInterval();
        await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(1), { timeout: 10_000 });
        const before = await stateOf(handle, (s) => s.syncs?.count === 1 && s.stage === 'ready');
        expect(before.syncs).toMatchObject({ lastTrigger: 'schedule', consecutiveFailures: 0, needsAttention: false });

        await nextInterval();
        await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(2), { timeout: 10_000 });
        // The second sync ends the run (SYNCS_PER_RUN = 2): the next run answers with the same state, one continuation on.
        const after = await stateOf(handle, (s) => s.syncs?.continuedAsNew === 1);
        await vi.waitFor(
          async () =>
            expect((await env.client.workflow.getHandle(handle.workflowId, firstRun).describe()).status.name).toBe(
              'CONTINUED_AS_NEW',
            ),
          { timeout: 10_000 },
        );
        expect((await handle.describe()).runId).not.toBe(firstRun);
        const { updatedAt: _u1, syncs: s1, ...restBefore } = before;
        const { updatedAt: _u2, syncs: s2, ...restAfter } = after;
        expect(restAfter).toEqual({ ...restBefore, repositorySizeMb: 3 });
        expect(s2).toMatchObject({
          count: 2,
          intervalSeconds: 60,
          consecutiveFailures: 0,
          needsAttention: false,
          lastTrigger: 'schedule',
        });
        expect(s1!.count).toBe(1);

        await nextInterval();
        await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(3), { timeout: 10_000 });
        expect(named(calls, 'syncRepository').map((c) => [c.queue, c.input.trigger, c.input.audit.userId])).toEqual(
          Array(3).fill([q.sync('a'), 'schedule', 'system:schedule']),
        );
        // Admission answers in the continued run as in the first: a repeated request gets the first answer.
        expect(await handle.executeUpdate(admissionUpdate, { args: [fingerprintOf(first)] })).toMatchObject({
          repoId: kept.repoId,
        });
        await handle.signal(cleanupSignal);
        expect(await handle.result()).toMatchObject({ repoId: kept.repoId, cloneStatus: 'CLEANED' });
        expect(named(calls, 'cleanupSandbox')).toMatchObject([{ queue: q.host('a'), input: { reason: 'signal' } }]);
        expect(named(calls, 'cloneRepository')).toHaveLength(1);
      });
    });

    it('stops after SYNC_FAILURE_LIMIT failures in a row: the schedule and pushes pause until a retry, whose new token syncs at once', async () => {
      let outcome: 'fail' | 'ok' = 'fail';
      const mocks = (): Mocks => ({
        syncRepository: async () => {
          if (outcome === 'fail') throw failure('upstream_unavailable');
          return synced;
        },
        markSyncFailed: async () => {},
        resumeSyncs: async () => {},
      });
      await withWorkers({ mocks }, async ({ calls, start }) => {
        const handle = await start(scheduled());
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED' && s.syncs?.nextSyncAt !== null);
        for (const n of [1, 2, 3]) {
          await nextInterval();
          await vi.waitFor(() => expect(named(calls, 'markSyncFailed')).toHaveLength(n), { timeout: 10_000 });
          // The run has taken the failure in (and set its next timer) before the clock moves on again.
          await stateOf(handle, (s) => s.syncs?.consecutiveFailures === n && s.stage === 'ready');
        }
        const paused = await stateOf(handle, (s) => s.syncs?.needsAttention === true);
        expect(paused.syncs).toMatchObject({ consecutiveFailures: 3, nextSyncAt: null });
        expect(named(calls, 'markSyncFailed').map((c) => c.input.needsAttention ?? false)).toEqual([
          false,
          false,
          true,
        ]);
        expect(named(calls, 'markSyncFailed')[2]!.input.errorMessage).toMatch(
          /3 syncs in a row failed .*Syncs are paused: send a new access token with POST \/api\/v1\/code\/repos\/.+\/retry/,
        );

        // Paused: an hour passes without a sync, and a push is ignored (on the record).
        await env.sleep('1 hour');
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-1' });
        await vi.waitFor(
          () => expect(named(calls, 'recordIgnoredSignal')).toMatchObject([{ input: { signal: 'sync' } }]),
          { timeout: 10_000 },
        );
        expect(named(calls, 'syncRepository')).toHaveLength(3);

        outcome = 'ok';
        const newToken = { ciphertext: 'bmV3', keyId: 'kid-1' };
        await handle.executeUpdate(retryUpdate, { args: [{ sealedToken: newToken, requestedBy: 'user-1' }] });
        await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(4), { timeout: 10_000 });
        expect(named(calls, 'encryptToken').at(-1)!.input.sealedToken).toEqual(newToken);
        expect(named(calls, 'resumeSyncs')).toMatchObject([
          { input: { newToken: { tokenCiphertext: 'ZW5j' }, audit: { userId: 'user-1' } } },
        ]);
        expect(named(calls, 'syncRepository')[3]!.input).toMatchObject({ trigger: 'api', audit: { userId: 'user-1' } });
        const resumed = await stateOf(
          handle,
          (s) => s.syncs?.needsAttention === false && s.stage === 'ready' && s.syncs.nextSyncAt !== null,
        );
        expect(resumed).toMatchObject({ error: null, syncs: { consecutiveFailures: 0 } });
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });

    it('an interval equal to the TTL syncs, which keeps the clone, rather than cleaning it up', async () => {
      await withWorkers({ mocks: () => ({ syncRepository: async () => synced }) }, async ({ calls, start }) => {
        const handle = await start(scheduled({ sandboxTtlSeconds: 120, syncIntervalSeconds: 120 }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED' && s.syncs?.nextSyncAt !== null);
        await env.sleep('121 seconds');
        await vi.waitFor(() => expect(named(calls, 'syncRepository')).toHaveLength(1), { timeout: 10_000 });
        await stateOf(handle, (s) => s.syncs?.count === 1 && s.stage === 'ready');
        expect(named(calls, 'cleanupSandbox')).toEqual([]);
        await handle.signal(cleanupSignal);
        expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
      });
    });

    it('paused: a push that came during the failing sync is dropped, and a sync the user asks for keeps the message naming retry', async () => {
      const held = refusedWhenReleased();
      await withWorkers({ mocks: held.mocks }, async ({ calls, start }) => {
        const release = () => held.release();
        const handle = await start(scheduled({ syncIntervalSeconds: undefined }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
        await handle.signal(syncSignal, { trigger: 'api', requestedBy: 'user-1' });
        await vi.waitFor(() => expect(held.held()).toBe(true), { timeout: 10_000 });
        // Queued behind the failing sync, before the pause is known.
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-1' });
        await stateOf(handle, (s) => s.stage === 'syncing' && s.syncs?.lastTrigger === 'api');
        release();
        await stateOf(handle, (s) => s.syncs?.needsAttention === true && s.stage === 'ready');
        // The user's own sync runs next (were the push still queued, it would have run first) and fails again.
        await handle.signal(syncSignal, { trigger: 'api', requestedBy: 'user-1' });
        await vi.waitFor(() => expect(held.held()).toBe(true), { timeout: 10_000 });
        release();
        await vi.waitFor(() => expect(named(calls, 'markSyncFailed')).toHaveLength(2), { timeout: 10_000 });
        expect(named(calls, 'syncRepository').map((c) => c.input.trigger)).toEqual(['api', 'api']);
        const [, again] = named(calls, 'markSyncFailed');
        expect(again!.input).toMatchObject({ needsAttention: true, errorCode: 'invalid_credentials' });
        expect(again!.input.errorMessage).toMatch(/Syncs are paused: send a new access token/);
        expect((await stateOf(handle, (s) => s.syncs?.consecutiveFailures === 2)).error!.message).toMatch(
          /Syncs are paused/,
        );
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });

    it('a webhook delivery signalled twice (the API could not tell the first went through) syncs once', async () => {
      await withWorkers({ mocks: () => ({ syncRepository: async () => synced }) }, async ({ calls, start }) => {
        const handle = await start(scheduled({ syncIntervalSeconds: undefined }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-1' });
        await stateOf(handle, (s) => s.syncs?.count === 1 && s.stage === 'ready');
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-1' });
        // Another delivery after it is taken: had the repeat been taken, it would have run first.
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-2' });
        await stateOf(handle, (s) => s.syncs?.count === 2 && s.stage === 'ready');
        expect(named(calls, 'syncRepository').map((c) => c.input.deliveryId)).toEqual(['d-1', 'd-2']);
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });

    it('a refused token needs attention at once; a retry of a repository whose syncs run is refused', async () => {
      const mocks = (): Mocks => ({
        syncRepository: async () => {
          throw failure('invalid_credentials');
        },
        markSyncFailed: async () => {},
      });
      await withWorkers({ mocks }, async ({ calls, start }) => {
        const handle = await start(scheduled({ syncIntervalSeconds: undefined }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
        const refused = await handle.executeUpdate(retryUpdate, { args: [{}] }).catch((err: unknown) => err);
        expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'invalid_state' });
        await handle.signal(syncSignal, { trigger: 'api', requestedBy: 'user-1' });
        const paused = await stateOf(handle, (s) => s.syncs?.needsAttention === true);
        expect(paused).toMatchObject({
          error: { code: 'invalid_credentials' },
          syncs: { consecutiveFailures: 1, nextSyncAt: null, intervalSeconds: null },
        });
        expect(named(calls, 'markSyncFailed')).toMatchObject([
          {
            input: {
              needsAttention: true,
              errorCode: 'invalid_credentials',
              trigger: 'api',
              audit: { userId: 'user-1' },
            },
          },
        ]);
        expect(paused.error!.message).toMatch(/^The Git server refused the access token\. Syncs are paused/);
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });

    it("a user's sync merged into a pending push's still runs when the sync under way pauses syncs", async () => {
      const held = refusedWhenReleased();
      await withWorkers({ mocks: held.mocks }, async ({ calls, start }) => {
        const release = () => held.release();
        const handle = await start(scheduled({ syncIntervalSeconds: undefined }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
        await handle.signal(syncSignal, { trigger: 'schedule' });
        await vi.waitFor(() => expect(held.held()).toBe(true), { timeout: 10_000 });
        // Both queued behind the failing sync, the user's merged into the push's.
        await handle.signal(syncSignal, { trigger: 'webhook', deliveryId: 'd-1', after: 'a'.repeat(40) });
        await handle.signal(syncSignal, { trigger: 'api', requestedBy: 'user-2' });
        release();
        await stateOf(handle, (s) => s.syncs?.needsAttention === true);
        await vi.waitFor(() => expect(held.held()).toBe(true), { timeout: 10_000 });
        release();
        await vi.waitFor(() => expect(named(calls, 'markSyncFailed')).toHaveLength(2), { timeout: 10_000 });
        const [, second] = named(calls, 'syncRepository');
        expect(second!.input).toMatchObject({ trigger: 'api', audit: { userId: 'user-2' } });
        // The user's request named no commit: the merged sync fetches.
        expect(second!.input.after).toBeUndefined();
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });

    it("a service's failure does not count toward the pause, says whose it is, and is retried with backoff", async () => {
      let failuresLeft = 3;
      const mocks = (): Mocks => ({
        syncRepository: async () => {
          if (failuresLeft-- > 0) throw failure('insufficient_storage');
          return synced;
        },
        markSyncFailed: async () => {},
      });
      await withWorkers({ mocks }, async ({ calls, start }) => {
        // A limit of 3: three repository failures in a row would pause syncs.
        const handle = await start(scheduled({ syncIntervalSeconds: undefined }));
        await stateOf(handle, (s) => s.cloneStatus === 'COMPLETED');
        await handle.signal(syncSignal, { trigger: 'api', requestedBy: 'user-1' });
        const backoffs = [60, 120, 240];
        for (const [i, seconds] of backoffs.entries()) {
          await vi.waitFor(() => expect(named(calls, 'markSyncFailed').length).toBeGreaterThan(i), { timeout: 10_000 });
          const failed = await stateOf(handle, (s) => s.stage === 'ready' && (s.syncs?.count ?? 0) > i);
          expect(failed.syncs).toMatchObject({ consecutiveFailures: 0, needsAttention: false });
          await env.sleep(`${seconds + 1} seconds`);
        }
        const done = await stateOf(handle, (s) => s.syncs?.count === 4 && s.stage === 'ready');
        expect(done).toMatchObject({ error: null, syncs: { consecutiveFailures: 0, needsAttention: false } });
        expect(named(calls, 'markSyncFailed').map((c) => c.input.needsAttention ?? false)).toEqual([
          false,
          false,
          false,
        ]);
        expect(named(calls, 'markSyncFailed').map((c) => c.input.errorMessage)).toEqual(
          backoffs.map(
            (seconds) =>
              `The sync failed on the service's side, not the repository's (insufficient_storage: insufficient_storage (mocked)); it does not count toward pausing syncs and is retried in ${seconds} s.`,
          ),
        );
        expect(named(calls, 'syncRepository').map((c) => c.input.audit.userId)).toEqual(Array(4).fill('user-1'));
        await handle.signal(cleanupSignal);
        await handle.result();
      });
    });
  });
});
