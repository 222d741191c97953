import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { StatusBody } from '../../src/api/status.js';
import { call, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';
import { createRepoWithHeavyHistory } from '../support/git-repos.js';
import { sseBlocks, type SseBlock } from '../support/sse.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let slowUrl: string;
let blockerUrls: string[];

/**
 * Clones that hold every slot the measured clone could run in, until the test cleans them up. With
 * WORKER_CONCURRENCY=1 a host runs 1 + 2 clones on its own queue (where a clone that deepens the
 * probe admission kept on this host goes): three blockers fill it.
 */
const BLOCKERS = 3;

/** Long enough for the whole clone, with room to spare; a stream still open then fails the test. */
const STREAM_BOUND_MS = 50_000;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600', WORKER_CONCURRENCY: '1' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'status events' })).body.id;
  // A light tip over 2 MB of incompressible history, served at 200 kB/s: admitted at once, then a
  // download of ~10 s, so git reports progress over several throttled signals (one per 3 s).
  const name = `events-${randomUUID().slice(0, 8)}`;
  await createRepoWithHeavyHistory(
    stack.gitRoot,
    name,
    { 'old.bin': randomBytes(2_000_000) },
    { 'README.md': 'tip\n' },
  );
  slowUrl = `${stack.gitUrl}/slow/200000/${name}.git`;
  // The same history at 20 kB/s: a clone that lasts until it is cleaned up.
  blockerUrls = await Promise.all(
    Array.from({ length: BLOCKERS }, async (_, i) => {
      const blocker = `${name}-blocker-${i}`;
      await createRepoWithHeavyHistory(
        stack.gitRoot,
        blocker,
        { 'old.bin': randomBytes(2_000_000) },
        { 'README.md': 'tip\n' },
      );
      return `${stack.gitUrl}/slow/20000/${blocker}.git`;
    }),
  );
});

afterAll(async () => {
  await app?.stop();
});

interface Streamed {
  status: number;
  contentType: string | null;
  blocks: SseBlock[];
  /** Whether the server ended the stream (rather than the bound running out). */
  closedByServer: boolean;
}

/** Opens `/events` as the default user and reads it until the server closes it, or the bound runs out; `onFirst` runs at the first event. */
async function streamEvents(repoId: string, onFirst?: () => Promise<void>): Promise<Streamed> {
  const bound = AbortSignal.timeout(STREAM_BOUND_MS);
  const res = await fetch(`${app.api.url}/api/v1/code/repos/${repoId}/events`, {
    headers: { authorization: `Bearer ${await app.tokenFor()}`, accept: 'text/event-stream' },
    signal: bound,
  });
  const blocks: SseBlock[] = [];
  let closedByServer = false;
  try {
    for await (const block of sseBlocks(res.body!)) {
      blocks.push(block);
      if (blocks.length === 1) await onFirst?.();
    }
    closedByServer = true;
  } catch (err) {
    if (!bound.aborted) throw err;
  }
  return { status: res.status, contentType: res.headers.get('content-type'), blocks, closedByServer };
}

const statusesOf = (blocks: SseBlock[]) => blocks.filter((b) => b.event === 'status');
const bodyOf = (block: SseBlock) => JSON.parse(block.data!) as StatusBody;

describe('GET /code/repos/{repo_id}/events', () => {
  let repoId: string;

  it('streams a clone from PENDING to COMPLETED: each change once, bytes and a rate on the way, then closes', async () => {
    const connect = (gitUrl: string) =>
      call(app, 'POST', '/api/v1/code/connect', {
        git_url: gitUrl,
        access_token: stack.gitToken,
        project_id: projectId,
        request_id: randomUUID(),
      });
    const blockers = await Promise.all(blockerUrls.map(connect));
    expect(blockers.map((b) => b.status)).toEqual(blockerUrls.map(() => 201));
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(
          blockers.map((b) => call(app, 'GET', `/api/v1/code/repos/${b.body.repo_id}/status`)),
        );
        if (!statuses.every((s) => s.body.clone_status === 'CLONING'))
          throw new Error('the blockers are not all cloning yet');
      },
      { timeout: 20_000, interval: 100 },
    );
    const connected = await connect(slowUrl);
    expect(connected.status).toBe(201);
    repoId = connected.body.repo_id;

    // Queued behind the blockers, it is PENDING when the stream starts; then the blockers go, and it clones.
    const freeTheSlots = async () => {
      await Promise.all(blockers.map((b) => call(app, 'POST', `/api/v1/code/repos/${b.body.repo_id}/cleanup`)));
    };
    const streamed = await streamEvents(repoId, freeTheSlots);
    expect(streamed.status).toBe(200);
    expect(streamed.contentType).toBe('text/event-stream');
    expect(streamed.closedByServer).toBe(true);
    const events = statusesOf(streamed.blocks);
    const bodies = events.map(bodyOf);

    expect(bodies[0]).toMatchObject({ clone_status: 'PENDING', bytes_received: null });
    expect(bodies.map((b) => b.clone_status)).toContain('CLONING');
    const ids = events.map((e) => Number(e.id));
    ids.slice(1).forEach((id, i) => expect(id).toBeGreaterThan(ids[i]!));
    // Only changes are sent.
    events.slice(1).forEach((e, i) => expect(e.data).not.toBe(events[i]!.data));

    const midway = bodies.filter(
      (b) =>
        b.clone_status === 'CLONING' && b.progress_percent! > 0 && b.progress_percent! < 100 && b.bytes_received! > 0,
    );
    expect(
      midway.length,
      JSON.stringify(bodies.map((b) => [b.clone_status, b.progress_percent, b.bytes_received])),
    ).toBeGreaterThanOrEqual(1);
    // git shows its rate beside the bytes.
    expect(midway.some((b) => b.bytes_per_second! > 0)).toBe(true);

    const last = bodies.at(-1)!;
    expect(last).toMatchObject({
      repo_id: repoId,
      clone_status: 'COMPLETED',
      progress_percent: 100,
      bytes_per_second: null,
    });
    expect(last.bytes_received).toBeGreaterThan(1_900_000);
    // The first final event is the last.
    expect(bodies.filter((b) => b.clone_status === 'COMPLETED')).toHaveLength(1);
  });

  it('the status endpoint shows what the clone received once it is COMPLETED, and no rate', async () => {
    const status = await call(app, 'GET', `/api/v1/code/repos/${repoId}/status`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ clone_status: 'COMPLETED', progress_percent: 100, bytes_per_second: null });
    expect(status.body.bytes_received).toBeGreaterThan(1_900_000);
  });

  it('a repository already at rest gets its status once, and the stream closes', async () => {
    const streamed = await streamEvents(repoId);
    expect(streamed.closedByServer).toBe(true);
    expect(statusesOf(streamed.blocks).map(bodyOf)).toMatchObject([
      { clone_status: 'COMPLETED', progress_percent: 100 },
    ]);
    const status = await call(app, 'GET', `/api/v1/code/repos/${repoId}/status`);
    expect(JSON.parse(statusesOf(streamed.blocks)[0]!.data!)).toEqual(status.body);
  });
});
