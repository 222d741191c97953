import type { Bench, BenchContext, Row } from '../context.js';
import { describeBreakdown } from '../breakdown.js';
import { factor } from '../report.js';
import { mb, median, ms, repeat, timed } from '../stats.js';

/** Connect → COMPLETED for one repository, with the Git server's bytes, against a raw clone. */
async function measure(ctx: BenchContext, name: string, key: string) {
  const perRun = await repeat(ctx.runs, async (run) => {
    const project = await ctx.project();
    const countKey = `${key}-${run}`;
    const { ms: serviceMs, value: workflowId } = await timed(async () => {
      const admitted = await ctx.api.connect(project, ctx.url(name, `/count/${countKey}`));
      if (admitted.status !== 201) throw new Error(`B2: connect of ${name} answered ${admitted.status}`);
      ctx.openWorkflows++;
      await ctx.api.waitCompleted(admitted.repoId!);
      return admitted.workflowId!;
    });
    const serviceBytes = await ctx.bytesSent(countKey);
    const rawMs = await ctx.raw.clone(ctx.url(name, `/count/${countKey}-raw`));
    const whereTimeGoes = describeBreakdown(await ctx.breakdown(workflowId, 'clone'));
    return { serviceMs, rawMs, serviceBytes, rawBytes: await ctx.bytesSent(`${countKey}-raw`), whereTimeGoes };
  });
  const pick = (k: 'serviceMs' | 'rawMs' | 'serviceBytes' | 'rawBytes') => median(perRun.map((r) => r[k]));
  return {
    serviceMs: pick('serviceMs'),
    rawMs: pick('rawMs'),
    serviceBytes: pick('serviceBytes'),
    rawBytes: pick('rawBytes'),
    perRun,
  };
}

/**
 * B2: connect → `COMPLETED` of the generated ~20 MB repository (and each `--repos` one) against a
 * raw `git clone`; B3: the bytes the Git server sent for it against one raw clone's.
 */
export const clone: Bench = {
  ids: ['B2', 'B3'],
  async run(ctx) {
    const rows: Row[] = [];
    for (const [label, name] of [
      ['generated ~20 MB', ctx.repos.medium],
      ...ctx.repos.real.map((r) => [r, r]),
    ] as const) {
      const m = await measure(ctx, name, `b2-${name}`);
      const suffix = name === ctx.repos.medium ? '' : ` ${label}`;
      rows.push(
        {
          id: `B2${suffix}`,
          what: `connect → COMPLETED, ${label} (median of ${ctx.runs})`,
          measured: ms(m.serviceMs),
          floor: `raw clone ${ms(m.rawMs)}`,
          ratio: factor(m.serviceMs, m.rawMs),
          goal: '≤ 1.15×',
          met: m.serviceMs <= 1.15 * m.rawMs,
          data: { serviceMs: m.serviceMs, rawMs: m.rawMs, perRun: m.perRun },
        },
        {
          id: `B3${suffix}`,
          what: `bytes the Git server sent per connect, ${label}`,
          measured: mb(m.serviceBytes),
          floor: `raw clone ${mb(m.rawBytes)}`,
          ratio: factor(m.serviceBytes, m.rawBytes),
          goal: '≤ 1.05×',
          met: m.serviceBytes <= 1.05 * m.rawBytes,
          data: { serviceBytes: m.serviceBytes, rawBytes: m.rawBytes },
        },
      );
    }
    return rows;
  },
};
