import type { Bench } from '../context.js';
import { factor } from '../report.js';
import { mb, median, ms, repeat } from '../stats.js';

/**
 * B7: a connect of a repository whose tip is over the limit, until its 413: the bytes the Git
 * server sent and the time, against a raw fetch of the same repository stopped at as many bytes.
 */
export const oversize: Bench = {
  ids: ['B7'],
  async run(ctx) {
    const limit = ctx.limitMb * 1024 * 1024;
    const perRun = await repeat(ctx.runs, async (run) => {
      const key = `b7-${run}`;
      const project = await ctx.project();
      const answer = await ctx.api.connect(project, ctx.url(ctx.repos.oversize, `/count/${key}`));
      if (answer.status !== 413)
        throw new Error(`B7: connect of the oversize repository answered ${answer.status}, not 413`);
      const bytes = await ctx.bytesSent(key);
      const rawMs = await ctx.raw.fetchUntil(
        ctx.url(ctx.repos.oversize, `/count/${key}-raw`),
        async () => (await ctx.bytesSent(`${key}-raw`)) >= bytes,
      );
      return { ms: answer.ms, bytes, rawMs };
    });
    const bytes = median(perRun.map((r) => r.bytes));
    const time = median(perRun.map((r) => r.ms));
    const rawMs = median(perRun.map((r) => r.rawMs));
    return [
      {
        id: 'B7',
        what: `oversize rejection (limit ${ctx.limitMb} MB, median of ${ctx.runs})`,
        measured: `${mb(bytes)} pulled, ${ms(time)} to 413`,
        floor: `limit + 5 % = ${mb(limit * 1.05)}; raw pull of as many bytes ${ms(rawMs)}`,
        ratio: `${(bytes / limit).toFixed(2)}× limit, ${factor(time, rawMs)} time`,
        goal: '≤ limit + 5 %, ≤ 1.2× raw time',
        met: bytes <= limit * 1.05 && time <= 1.2 * rawMs,
        data: { bytes, time, rawMs, limit, perRun },
      },
    ];
  },
};
