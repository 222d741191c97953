import type { Bench } from '../context.js';
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
    const admissions: number[] = [];
    const service = await timed(async () => {
      const repoIds = await pool(CONNECTS, CONCURRENCY, async () => {
        const admitted = await ctx.api.connect(project, url);
        if (admitted.status !== 201) throw new Error(`B4: connect answered ${admitted.status}`);
        ctx.openWorkflows++;
        admissions.push(admitted.ms);
        return admitted.repoId!;
      });
      await ctx.api.waitAllCompleted(project, repoIds);
    });
    const raw = await timed(() => pool(CONNECTS, CONCURRENCY, () => ctx.raw.clone(url)));
    const perSecond = (CONNECTS / service.ms) * 1000;
    const rawPerSecond = (CONNECTS / raw.ms) * 1000;
    const p99 = percentile(admissions, 99);
    return [{
      id: 'B4',
      what: `${CONNECTS} connects of a tiny repo at concurrency ${CONCURRENCY}, to all COMPLETED`,
      measured: `${ms(service.ms)} (${perSecond.toFixed(1)}/s), admission p99 ${ms(p99)}`,
      floor: `${ms(raw.ms)} (${rawPerSecond.toFixed(1)}/s)`,
      ratio: `${(perSecond / rawPerSecond).toFixed(2)}× throughput`,
      goal: '≥ 0.5× throughput, admission p99 ≤ 1 s',
      met: perSecond >= 0.5 * rawPerSecond && p99 <= 1000,
      data: { serviceMs: service.ms, rawMs: raw.ms, perSecond, rawPerSecond, admissionP50: percentile(admissions, 50), admissionP99: p99 },
    }];
  },
};
