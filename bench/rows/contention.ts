import { setTimeout as sleep } from 'node:timers/promises';
import type { Bench } from '../context.js';
import { describeBreakdown, medianBreakdown } from '../breakdown.js';
import { ms, percentile, pool } from '../stats.js';

const LONG_CLONES = 8;
/** Each long clone pulls ~2 MB of history at this pace: about 10 s. */
const BYTES_PER_SECOND = 200_000;
const ADMISSIONS = 20;

/**
 * B9: admission latency of the tiny repository (one every 250 ms, not waiting for each other)
 * while 8 slow clones run, against B1's p99 (the bench runs B1 first whenever B9 is asked for).
 */
export const contention: Bench = {
  ids: ['B9'],
  async run(ctx) {
    const b1 = ctx.results.get('B1')?.data.p99 as number | undefined;
    const project = await ctx.project();
    const slowIds = await pool(LONG_CLONES, LONG_CLONES, async () => {
      const admitted = await ctx.api.connect(project, ctx.url(ctx.repos.slowHistory, `/slow/${BYTES_PER_SECOND}`));
      if (admitted.status !== 201) throw new Error(`B9: connect of the slow repository answered ${admitted.status}`);
      ctx.openWorkflows++;
      return admitted.repoId!;
    });
    const tiny = ctx.url(ctx.repos.tiny);
    // git alone doing admission's probe under the same load, in between: what the machine allows.
    const rawProbes = Promise.all(
      Array.from({ length: ADMISSIONS }, async (_, i) => {
        await sleep(i * 250 + 125);
        return ctx.raw.probe(tiny);
      }),
    );
    const admissions = await Promise.all(
      Array.from({ length: ADMISSIONS }, async (_, i) => {
        await sleep(i * 250);
        const admitted = await ctx.api.connect(project, tiny);
        if (admitted.status !== 201) throw new Error(`B9: connect answered ${admitted.status}`);
        ctx.openWorkflows++;
        return admitted;
      }),
    );
    const raw = await rawProbes;
    await ctx.api.waitAllCompleted(project, slowIds, 500);
    const slowest = [...admissions].sort((a, b) => b.ms - a.ms).slice(0, 3);
    const whereTimeGoes = describeBreakdown(
      medianBreakdown(await Promise.all(slowest.map((a) => ctx.breakdown(a.workflowId!)))),
    );
    const latencies = admissions.map((a) => a.ms);
    const p99 = percentile(latencies, 99);
    return [
      {
        id: 'B9',
        what: `admission p99 while ${LONG_CLONES} long clones run`,
        measured: `p99 ${ms(p99)} (p50 ${ms(percentile(latencies, 50))})`,
        floor: `${b1 === undefined ? 'B1 not run' : `B1 p99 ${ms(b1)}`}; git's own probe under the same load p50 ${ms(percentile(raw, 50))}, p99 ${ms(percentile(raw, 99))}`,
        ratio: b1 === undefined ? '—' : `${(p99 / b1).toFixed(2)}×`,
        goal: '≤ 2× B1',
        met: b1 === undefined ? undefined : p99 <= 2 * b1,
        data: { p99, admissions: latencies, b1P99: b1, rawProbesUnderLoad: raw, whereTimeGoesSlowest3: whereTimeGoes },
      },
    ];
  },
};
