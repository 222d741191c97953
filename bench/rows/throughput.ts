import type { Bench } from '../context.js';
import { describeBreakdown, medianBreakdown } from '../breakdown.js';
import { cpuMsPer } from '../cpu.js';
import { ms, percentile, pool, timed } from '../stats.js';

const CONNECTS = 200;
const CONCURRENCY = 20;

/**
 * B4: 200 connects of the tiny repository, 20 at a time, until all are `COMPLETED` (and the
 * admission p99 among them), against 200 raw clones 20 at a time.
 */

export const throughput: Bench = {
  ids: ['B4'],
  async run(ctx) {
    const project = await ctx.project();
    const url = ctx.url(ctx.repos.tiny);
    const admissions: Array<{ ms: number; workflowId: string }> = [];
    let allAdmittedMs = 0;
    const { value: service, cpuSeconds } = await ctx.cpu(() =>
      timed(async () => {
        const started = performance.now();
        const repoIds = await pool(CONNECTS, CONCURRENCY, async () => {
          const admitted = await ctx.api.connect(project, url);
          if (admitted.status !== 201) throw new Error(`B4: connect answered ${admitted.status}`);
          ctx.openWorkflows++;
          admissions.push({ ms: admitted.ms, workflowId: admitted.workflowId! });
          return admitted.repoId!;
        });
        allAdmittedMs = performance.now() - started;
        await ctx.api.waitAllCompleted(project, repoIds);
      }),
    );
    const { value: raw, cpuSeconds: rawCpuSeconds } = await ctx.cpu(() =>
      timed(() => pool(CONNECTS, CONCURRENCY, () => ctx.raw.clone(url))),
    );
    const perSecond = (CONNECTS / service.ms) * 1000;
    const rawPerSecond = (CONNECTS / raw.ms) * 1000;
    const latencies = admissions.map((a) => a.ms);
    const p99 = percentile(latencies, 99);
    // Where the time went: the slowest admissions, and every tenth connect through its clone.
    const slowest = [...admissions].sort((a, b) => b.ms - a.ms).slice(0, 5);
    const slowestAdmissions = describeBreakdown(
      medianBreakdown(await Promise.all(slowest.map((a) => ctx.breakdown(a.workflowId)))),
    );
    const sample = admissions.filter((_, i) => i % 10 === 0);
    const throughClone = describeBreakdown(
      medianBreakdown(await Promise.all(sample.map((a) => ctx.breakdown(a.workflowId, 'clone')))),
    );
    return [
      {
        id: 'B4',
        what: `${CONNECTS} connects of a tiny repo at concurrency ${CONCURRENCY}, to all COMPLETED`,
        measured: `${ms(service.ms)} (${perSecond.toFixed(1)}/s), admission p99 ${ms(p99)}`,
        floor: `${ms(raw.ms)} (${rawPerSecond.toFixed(1)}/s)`,
        ratio: `${(perSecond / rawPerSecond).toFixed(2)}× throughput`,
        goal: '≥ 0.5× throughput, admission p99 ≤ 1 s',
        met: perSecond >= 0.5 * rawPerSecond && p99 <= 1000,
        data: {
          serviceMs: service.ms,
          allAdmittedMs,
          rawMs: raw.ms,
          perSecond,
          rawPerSecond,
          admissionP50: percentile(latencies, 50),
          admissionP99: p99,
          slowestAdmissions,
          throughClone,
          // The machine's two cores are the bound: CPU milliseconds per connect, by part, against git alone per raw clone.
          cpuMsPerConnect: cpuMsPer(cpuSeconds, CONNECTS),
          cpuMsPerRawClone: cpuMsPer(rawCpuSeconds, CONNECTS),
        },
      },
    ];
  },
};
