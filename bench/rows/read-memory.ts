import { setTimeout as sleep } from 'node:timers/promises';
import type { Bench, BenchContext } from '../context.js';
import { mb, pool } from '../stats.js';
import { connectTiny } from './memory.js';

const KEPT = 200;
const READERS = 20;
const RSS_SAMPLE_MS = 100;

/** Every repository of this run's projects that is `COMPLETED`: clones kept on the worker's disk. */
async function keptRepos(ctx: BenchContext): Promise<string[]> {
  const kept: string[] = [];
  for (const project of ctx.projects)
    for (const [id, status] of await ctx.api.repoStatuses(project)) if (status === 'COMPLETED') kept.push(id);
  return kept;
}

/** `work`'s result, with the worker's highest RSS sampled while it ran. */
async function peakWorkerRss<T>(ctx: BenchContext, work: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      peak = Math.max(peak, (await ctx.services.rss()).worker);
      await sleep(RSS_SAMPLE_MS);
    }
  })();
  try {
    const value = await work();
    return { value, peak };
  } finally {
    done = true;
    await sampling;
  }
}

/** One reader's visit: the root of the repository's tree, then its first file there. */
async function visit(ctx: BenchContext, repoId: string): Promise<void> {
  const tree = await ctx.api.read(repoId, 'tree');
  if (tree.status !== 200) throw new Error(`B14: tree read answered ${tree.status}`);
  const file = (tree.body.entries as Array<{ path: string; type: string }>).find((e) => e.type === 'blob');
  if (!file) return;
  const read = await ctx.api.read(repoId, `files/${file.path.split('/').map(encodeURIComponent).join('/')}`);
  if (read.status !== 200) throw new Error(`B14: file read answered ${read.status}`);
}

/**
 * B14: resident memory of the worker process (which hosts the read service) with 200 kept
 * repositories, each read once by 20 readers at a time, once the readers are idle. The
 * repositories the rows before kept count; the rest are connected here.
 */
export const readMemory: Bench = {
  ids: ['B14'],
  async run(ctx) {
    let kept = await keptRepos(ctx);
    if (kept.length < KEPT) {
      await connectTiny(ctx, KEPT - kept.length, 'B14');
      kept = await keptRepos(ctx);
    }
    const before = (await ctx.services.rss()).worker;
    const { peak } = await peakWorkerRss(ctx, () => pool(kept.length, READERS, (i) => visit(ctx, kept[i]!)));
    const idle = (await ctx.services.rss()).worker;
    return [
      {
        id: 'B14',
        what: `worker RSS with ${kept.length} kept repos, each read once by ${READERS} readers, readers idle`,
        measured: `${mb(idle)} (before the reads ${mb(before)}, peak while reading ${mb(peak)}; at start ${mb(ctx.rssAtStart.worker)})`,
        floor: '—',
        ratio: '—',
        goal: '≤ 350 MB',
        met: idle <= 350 * 1024 * 1024,
        data: {
          workerBytes: idle,
          beforeReads: before,
          peakWhileReading: peak,
          kept: kept.length,
          atStart: ctx.rssAtStart,
        },
      },
    ];
  },
};
