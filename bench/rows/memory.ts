import type { Bench, BenchContext } from '../context.js';
import { mb, pool } from '../stats.js';

const OPEN_WORKFLOWS = 200;

/** Connects `count` tiny repositories in a project of their own, 20 at a time, and waits until all are `COMPLETED`. */
export async function connectTiny(ctx: BenchContext, count: number, row: string): Promise<string[]> {
  const project = await ctx.project();
  const repoIds = await pool(count, 20, async () => {
    const admitted = await ctx.api.connect(project, ctx.url(ctx.repos.tiny));
    if (admitted.status !== 201) throw new Error(`${row}: connect answered ${admitted.status}`);
    ctx.openWorkflows++;
    return admitted.repoId!;
  });
  await ctx.api.waitAllCompleted(project, repoIds);
  return repoIds;
}

/**
 * B8: resident memory of the API and the worker processes with 200 open workflows (cloned
 * repositories waiting for their TTL); the connects of earlier rows count, the rest are made here.
 */
export const memory: Bench = {
  ids: ['B8'],
  async run(ctx) {
    const missing = Math.max(0, OPEN_WORKFLOWS - ctx.openWorkflows);
    if (missing > 0) await connectTiny(ctx, missing, 'B8');
    const open = await ctx.countWorkflows('ExecutionStatus = "Running"');
    const { api, worker } = await ctx.services.rss();
    return [
      {
        id: 'B8',
        what: `RSS of API and worker with ${open} open workflows`,
        measured: `worker ${mb(worker)}, API ${mb(api)} (at start, before any connect: worker ${mb(ctx.rssAtStart.worker)}, API ${mb(ctx.rssAtStart.api)})`,
        floor: '—',
        ratio: '—',
        goal: '≤ 300 MB worker, ≤ 150 MB API',
        met: worker <= 300 * 1024 * 1024 && api <= 150 * 1024 * 1024,
        data: { workerBytes: worker, apiBytes: api, openWorkflows: open, atStart: ctx.rssAtStart },
      },
    ];
  },
};
