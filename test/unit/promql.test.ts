import { describe, expect, it } from 'vitest';
import { deployQueries, metricNamesIn, recordedNames } from '../support/promql.js';

describe('metricNamesIn', () => {
  it.each([
    ['up', ['up']],
    ['sum by (status) (rate(repo_connections_total{status!="admitted", le=~"1|2"}[5m]))', ['repo_connections_total']],
    [
      'histogram_quantile(0.95, sum by (le, size_category) (rate(repo_clone_duration_seconds_bucket[$__rate_interval])))',
      ['repo_clone_duration_seconds_bucket'],
    ],
    ['(sum(rate(a_total[5m])) or vector(0)) / (sum(rate(b_total[5m])) > 0) > 0.5', ['a_total', 'b_total']],
    ['1 - free_bytes / (size_bytes > bool 0) > 8e-1', ['free_bytes', 'size_bytes']],
    ['x unless x offset 1h30m', ['x']],
    ['errors_total / ignoring (code) group_left (team) requests_total', ['errors_total', 'requests_total']],
    [
      'sum without (instance) (task_queue:latency_seconds:p95) and on (job) up == 1',
      ['task_queue:latency_seconds:p95', 'up'],
    ],
    ['max_over_time(database_up[10m:1m] @ end())', ['database_up']],
    ['label_replace(g, "dst", "by (x) sum", "src", "(.*)")', ['g']],
    ['{__name__="renamed_total", job="api"}', ['renamed_total']],
    ['SUM(rate(x_total[5m])) AND Inf > NaN', ['x_total']],
  ])('%s', (expr, names) => {
    expect(metricNamesIn(expr)).toEqual(names);
  });
});

describe('deployQueries', () => {
  it('lists the rules and every dashboard target, rows included', () => {
    const sources = deployQueries().map((q) => q.source);
    expect(sources).toContain('alerts.yml KMSUnavailable');
    expect(sources).toContain('repo-connector.json "Task slots available"');
    expect(recordedNames()).toContain('failed_repo_connections_rate');
  });
});
