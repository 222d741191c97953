import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { LIVE_STATE_SHARED_MS, liveState } from '../../src/api/status.js';
import type { ConnectRepositoryState } from '../../src/shared/connect-repository.js';

/** A Temporal client whose query answers when told to, counting the queries sent. */
function fakeTemporal() {
  let queries = 0;
  const waiting: Array<(state: Partial<ConnectRepositoryState>) => void> = [];
  const client = {
    connection: { withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn() },
    workflow: {
      getHandle: () => ({
        query: () => {
          queries += 1;
          return new Promise((resolve) => waiting.push(resolve));
        },
      }),
    },
  } as unknown as Client;
  return {
    client,
    answer: (state: Partial<ConnectRepositoryState>) => waiting.splice(0).forEach((resolve) => resolve(state)),
    queries: () => queries,
  };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("a workflow's live state, shared by the statuses of one moment", () => {
  it('many concurrent statuses of one workflow send one query', async () => {
    const temporal = fakeTemporal();
    const clock = { now: 0 };
    const all = Promise.all(
      Array.from({ length: 50 }, () => liveState(temporal.client, 'wf-1', 'CLONING', () => clock.now)),
    );
    await settled();
    temporal.answer({ cloneStatus: 'CLONING', progressPercent: 40 });
    expect((await all).every((s) => s?.progressPercent === 40)).toBe(true);
    expect(temporal.queries()).toBe(1);
  });

  it('the answer serves for a moment, then the workflow is asked again', async () => {
    const temporal = fakeTemporal();
    const clock = { now: 0 };
    const first = liveState(temporal.client, 'wf-2', 'CLONING', () => clock.now);
    await settled();
    temporal.answer({ cloneStatus: 'CLONING', progressPercent: 40 });
    await first;
    clock.now += LIVE_STATE_SHARED_MS - 1;
    expect((await liveState(temporal.client, 'wf-2', 'CLONING', () => clock.now))?.progressPercent).toBe(40);
    expect(temporal.queries()).toBe(1);
    clock.now += 2;
    const later = liveState(temporal.client, 'wf-2', 'CLONING', () => clock.now);
    await settled();
    temporal.answer({ cloneStatus: 'CLONING', progressPercent: 60 });
    expect((await later)?.progressPercent).toBe(60);
    expect(temporal.queries()).toBe(2);
  });

  it('an answer the row has moved past (COMPLETED while it said CLONING) is not served: asked again', async () => {
    const temporal = fakeTemporal();
    const clock = { now: 0 };
    const first = liveState(temporal.client, 'wf-3', 'CLONING', () => clock.now);
    await settled();
    temporal.answer({ cloneStatus: 'CLONING', progressPercent: 90 });
    await first;
    const moved = liveState(temporal.client, 'wf-3', 'COMPLETED', () => clock.now);
    await settled();
    temporal.answer({ cloneStatus: 'COMPLETED', progressPercent: 100 });
    expect((await moved)?.cloneStatus).toBe('COMPLETED');
    expect(temporal.queries()).toBe(2);
  });
});
