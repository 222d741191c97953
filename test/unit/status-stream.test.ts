import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import type { RepoStatus, StatusBody } from '../../src/api/status.js';
import { lastEventIdOf, streamQuota, streamStatus, type StreamTiming } from '../../src/api/status-stream.js';
import { sseBlocks, type SseBlock } from '../support/sse.js';

/** The stream's rules at a pace a unit test can watch: polls every 10 ms. */
const fast: StreamTiming = { pollMs: 10, keepAliveMs: 60_000, maxLifeMs: 60_000, settleGraceMs: 60_000 };

const status = (clone_status: StatusBody['clone_status'], progress_percent: number, caughtUp = true): RepoStatus => ({
  body: { clone_status, progress_percent } as StatusBody,
  caughtUp,
});

/** An app streaming `statuses` in turn (the last one again once they run out), counting its reads. */
function streaming(
  statuses: RepoStatus[],
  options: { timing?: Partial<StreamTiming>; shutdown?: AbortSignal; onEnd?: () => void } = {},
) {
  let reads = 0;
  const read = vi.fn(async () => statuses[Math.min(++reads, statuses.length - 1)]);
  const app = new Hono().get('/events', (c) =>
    streamStatus(c, statuses[0]!, read, {
      log: createLogger({ level: 'silent' }),
      timing: { ...fast, ...options.timing },
      lastEventId: lastEventIdOf(c.req.header('last-event-id')),
      ...(options.shutdown ? { shutdown: options.shutdown } : {}),
      ...(options.onEnd ? { onEnd: options.onEnd } : {}),
    }),
  );
  return { app, read };
}

async function allBlocks(res: Response): Promise<SseBlock[]> {
  const blocks: SseBlock[] = [];
  for await (const block of sseBlocks(res.body!)) blocks.push(block);
  return blocks;
}

const progressOf = (blocks: SseBlock[]) =>
  blocks
    .filter((b) => b.event === 'status')
    .map((b) => JSON.parse(b.data!) as StatusBody)
    .map((b) => `${b.clone_status} ${b.progress_percent}`);

describe('the status stream', () => {
  it('sends the first status at once, then only changes, with increasing ids, and ends at rest', async () => {
    const { app, read } = streaming([
      status('PENDING', 20),
      status('PENDING', 20),
      status('CLONING', 40),
      status('CLONING', 40),
      status('COMPLETED', 100),
    ]);
    const res = await app.request('/events');
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const blocks = await allBlocks(res);
    expect(progressOf(blocks)).toEqual(['PENDING 20', 'CLONING 40', 'COMPLETED 100']);
    expect(blocks.map((b) => b.id)).toEqual(['1', '2', '3']);
    expect(read).toHaveBeenCalledTimes(4);
  });

  it('goes on from the Last-Event-ID an EventSource sends when it reconnects', async () => {
    const { app } = streaming([status('CLONING', 40), status('FAILED', 0)]);
    const blocks = await allBlocks(await app.request('/events', { headers: { 'last-event-id': '41' } }));
    expect(blocks.map((b) => b.id)).toEqual(['42', '43']);
    expect(lastEventIdOf('not a number')).toBe(0);
  });

  it('holds back a row at rest until its workflow has caught up, so the first final event is the last', async () => {
    const { app } = streaming([
      status('CLONING', 92),
      status('COMPLETED', 92, false),
      status('COMPLETED', 92, false),
      status('COMPLETED', 100),
    ]);
    expect(progressOf(await allBlocks(await app.request('/events')))).toEqual(['CLONING 92', 'COMPLETED 100']);
  });

  it('ends with the row as it stands when its workflow never catches up (terminated, reconciled)', async () => {
    const { app } = streaming([status('CLONING', 50), status('FAILED', 50, false)], { timing: { settleGraceMs: 50 } });
    expect(progressOf(await allBlocks(await app.request('/events')))).toEqual(['CLONING 50', 'FAILED 50']);
  });

  it('keeps a quiet stream alive with comments, and closes it when its life is up', async () => {
    const { app } = streaming([status('CLONING', 40)], { timing: { keepAliveMs: 30, maxLifeMs: 200 } });
    const blocks = await allBlocks(await app.request('/events'));
    expect(progressOf(blocks)).toEqual(['CLONING 40']);
    expect(blocks.filter((b) => b.comments.includes('keep-alive')).length).toBeGreaterThanOrEqual(2);
  });

  it('stops reading once the client has gone', async () => {
    const onEnd = vi.fn();
    // A poll a minute away: the stream must end on the client's going, not on its next poll.
    const { app, read } = streaming([status('CLONING', 40)], { onEnd, timing: { pollMs: 60_000 } });
    const res = await app.request('/events');
    for await (const block of sseBlocks(res.body!)) {
      expect(block.event).toBe('status');
      break;
    }
    // The stream's loop has ended (its finally ran) without reading again.
    await vi.waitFor(() => expect(onEnd).toHaveBeenCalledTimes(1), { timeout: 5000, interval: 5 });
    expect(read).not.toHaveBeenCalled();
  });

  it('ends when the API stops', async () => {
    const shutdown = new AbortController();
    const { app } = streaming([status('CLONING', 40)], { shutdown: shutdown.signal });
    const res = await app.request('/events');
    const blocks: SseBlock[] = [];
    for await (const block of sseBlocks(res.body!)) {
      blocks.push(block);
      shutdown.abort();
    }
    expect(progressOf(blocks)).toEqual(['CLONING 40']);
  });
});

describe('the per-user stream quota', () => {
  it('lets a user hold at most `max` streams, counted again as each one ends', () => {
    const quota = streamQuota(2);
    expect([quota.open('a'), quota.open('a'), quota.open('a')]).toEqual([true, true, false]);
    expect(quota.open('b')).toBe(true);
    quota.close('a');
    expect(quota.open('a')).toBe(true);
    expect(quota.open('a')).toBe(false);
  });

  it('holds all users together to `total`', () => {
    const quota = streamQuota(5, 3);
    expect(['a', 'b', 'c', 'd'].map((u) => quota.open(u))).toEqual([true, true, true, false]);
    quota.close('b');
    expect(quota.open('d')).toBe(true);
  });

  it("frees the stream's place when the stream ends", async () => {
    const onEnd = vi.fn();
    const app = new Hono().get('/events', (c) =>
      streamStatus(c, status('COMPLETED', 100), async () => status('COMPLETED', 100), {
        log: createLogger({ level: 'silent' }),
        timing: fast,
        onEnd,
      }),
    );
    await allBlocks(await app.request('/events'));
    expect(onEnd).toHaveBeenCalledTimes(1);
  });
});
