import { randomUUID } from 'node:crypto';
import type { Bench } from '../context.js';
import { ms, percentile } from '../stats.js';

const REQUESTS = 100;

/**
 * B5: 100 concurrent connects carrying one `request_id`: their p99, and how many workflows
 * (Temporal's visibility, by the project's search attribute) and rows (the project's list) they made.
 */
export const idempotency: Bench = {
  ids: ['B5'],
  async run(ctx) {
    const project = await ctx.project();
    const requestId = randomUUID();
    const url = ctx.url(ctx.repos.tiny);
    const answers = await Promise.all(Array.from({ length: REQUESTS }, () => ctx.api.connect(project, url, requestId)));
    ctx.openWorkflows++;
    const statuses = [...new Set(answers.map((a) => a.status))].sort();
    const p99 = percentile(
      answers.map((a) => a.ms),
      99,
    );
    const rows = (await ctx.api.repoStatuses(project)).size;
    const workflows = await ctx.countWorkflows(`ProjectId = "${project}"`);
    return [
      {
        id: 'B5',
        what: `${REQUESTS} concurrent requests, one request_id`,
        measured: `p99 ${ms(p99)}, ${workflows} workflow(s), ${rows} row(s), statuses ${statuses.join('/')}`,
        floor: '— (1 workflow, 1 row)',
        ratio: '—',
        goal: 'p99 ≤ 1 s, 1 workflow, 1 row',
        met: p99 <= 1000 && workflows === 1 && rows === 1,
        data: {
          p99,
          p50: percentile(
            answers.map((a) => a.ms),
            50,
          ),
          workflows,
          rows,
          statuses,
        },
      },
    ];
  },
};
