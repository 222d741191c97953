import type { Bench } from '../context.js';
import { describeBreakdown, medianBreakdown } from '../breakdown.js';
import { median, ms, percentile, repeat } from '../stats.js';

/** Sequential admissions of the tiny repository per run. */
const SAMPLES = 20;

/**
 * B1: `POST /code/connect` until its answer, one at a time, against what admission does with
 * git alone (`ls-remote` + the tip-only fetch), in alternation so both see the same machine.
 */
export const admission: Bench = {
  ids: ['B1'],
  async run(ctx) {
    const url = ctx.url(ctx.repos.tiny);
    const perRun = await repeat(ctx.runs, async () => {
      const project = await ctx.project();
      const service: number[] = [];
      const raw: number[] = [];
      const workflowIds: string[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const admitted = await ctx.api.connect(project, url);
        if (admitted.status !== 201) throw new Error(`B1: connect answered ${admitted.status}`);
        ctx.openWorkflows++;
        service.push(admitted.ms);
        workflowIds.push(admitted.workflowId!);
        raw.push(await ctx.raw.probe(url));
      }
      const breakdown = medianBreakdown(await Promise.all(workflowIds.map((id) => ctx.breakdown(id))));
      return {
        p50: percentile(service, 50),
        p99: percentile(service, 99),
        rawP50: percentile(raw, 50),
        rawP99: percentile(raw, 99),
        breakdown,
      };
    });
    const p50 = median(perRun.map((r) => r.p50));
    const p99 = median(perRun.map((r) => r.p99));
    const rawP50 = median(perRun.map((r) => r.rawP50));
    const rawP99 = median(perRun.map((r) => r.rawP99));
    return [
      {
        id: 'B1',
        what: `admission latency, tiny repo (median of ${ctx.runs} runs × ${SAMPLES})`,
        measured: `p50 ${ms(p50)}, p99 ${ms(p99)}`,
        floor: `p50 ${ms(rawP50)}, p99 ${ms(rawP99)}`,
        ratio: `p50 +${ms(p50 - rawP50)}`,
        goal: 'p50 ≤ floor + 150 ms',
        met: p50 <= rawP50 + 150,
        // Where the time goes, for BENCHMARKS.md: the last run's median admission, by part.
        data: { p50, p99, rawP50, rawP99, perRun, whereTimeGoes: describeBreakdown(perRun.at(-1)!.breakdown) },
      },
    ];
  },
};
