import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  alertNames,
  alertsPath,
  alertsTestPath,
  dashboardPanels,
  deployQueries,
  metricNamesIn,
  recordedNames,
  ruleGroups,
} from '../support/promql.js';

// The metrics the processes export (and the one the Temporal server exports). The integration test
// checks the same queries against the live /metrics endpoints; this list catches typos without them.
const KNOWN = new Set([
  // API
  'repo_connections_total',
  'projects_with_repos_total',
  'encryption_key_rotation_age_days',
  'encryption_operations_total',
  'database_up',
  'completed_repos_over_size_limit',
  // worker
  'repo_clone_duration_seconds',
  'repo_clones_failed_total',
  'git_size_check_duration_seconds',
  'oversized_repo_rejections_total',
  'sandbox_disk_usage_bytes',
  'sandbox_filesystem_size_bytes',
  'sandbox_filesystem_free_bytes',
  // Temporal SDK, in the worker
  'temporal_workflow_task_schedule_to_start_latency_seconds',
  'temporal_activity_schedule_to_start_latency_seconds',
  'temporal_worker_task_slots_available',
  'temporal_sticky_cache_size',
  'temporal_long_request_failure_total',
  // Temporal server
  'approximate_backlog_count',
]);
const family = (name: string) => name.replace(/_(?:bucket|count|sum)$/, '');

function promtool(...args: string[]): { code: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc 7 types run.error as Error
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('promtool is not installed: apt-get install prometheus (Debian ships promtool in it)');
  }
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

interface RuleTest {
  alertname: string;
  exp_alerts: unknown[];
}
interface TestCase {
  alert_rule_test?: RuleTest[];
  promql_expr_test?: { expr: string }[];
}
const cases = (parse(readFileSync(alertsTestPath, 'utf8')) as { tests: TestCase[] }).tests;
const ruleTests = cases.flatMap((c) => c.alert_rule_test ?? []);

describe('deploy/prometheus', () => {
  it('alerts.yml passes promtool check rules', () => {
    const { code, output } = promtool('check', 'rules', fileURLToPath(alertsPath));
    expect(code, output).toBe(0);
  });

  it('alerts.test.yml passes promtool test rules', () => {
    const { code, output } = promtool('test', 'rules', fileURLToPath(alertsTestPath));
    expect(code, output).toBe(0);
  });

  it('tests every alert firing and quiet, and every recording rule', () => {
    for (const name of alertNames()) {
      const tests = ruleTests.filter((t) => t.alertname === name);
      expect(
        tests.some((t) => t.exp_alerts.length > 0),
        `${name} fires in a test`,
      ).toBe(true);
      expect(
        tests.some((t) => t.exp_alerts.length === 0),
        `${name} stays quiet in a test`,
      ).toBe(true);
    }
    const exprs = cases.flatMap((c) => c.promql_expr_test ?? []).map((t) => t.expr);
    for (const name of recordedNames())
      expect(
        exprs.some((e) => metricNamesIn(e).includes(name)),
        name,
      ).toBe(true);
  });

  it('labels every alert with its priority and annotates it for the on-call', () => {
    for (const group of ruleGroups()) {
      for (const rule of group.rules.filter((r) => r.alert)) {
        const { labels, annotations } = rule as {
          labels?: Record<string, string>;
          annotations?: Record<string, string>;
        };
        const expected = labels?.priority === 'P1' ? 'page' : 'warning';
        expect(labels?.severity, rule.alert).toBe(expected);
        expect(Object.keys(annotations ?? {}).sort(), rule.alert).toEqual(['description', 'runbook', 'summary']);
      }
    }
  });
});

describe('deploy/grafana/repo-connector.json', () => {
  it('gives every panel a query', () => {
    const panels = dashboardPanels().filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels)
      expect(
        panel.targets?.some((t) => t.expr),
        panel.title,
      ).toBe(true);
  });

  it('and the rules query only metrics the services export or the rules record', () => {
    const known = new Set([...KNOWN, ...recordedNames()]);
    const unknown = deployQueries().flatMap(({ source, expr }) =>
      metricNamesIn(expr)
        .filter((n) => !known.has(n) && !known.has(family(n)))
        .map((n) => `${source}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
