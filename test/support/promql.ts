import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const alertsPath = new URL('../../deploy/prometheus/alerts.yml', import.meta.url);
export const alertsTestPath = new URL('../../deploy/prometheus/alerts.test.yml', import.meta.url);
export const dashboardPath = new URL('../../deploy/grafana/repo-connector.json', import.meta.url);

// Words that can stand where a metric name could, without a `(` after them to give them away.
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'atan2',
  'inf',
  'nan',
  'start',
  'end',
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'histogram_quantile',
  'clamp',
  'clamp_min',
  'clamp_max',
  'vector',
  'scalar',
  'time',
  'absent',
  'absent_over_time',
  'label_replace',
  'label_join',
  'round',
]);

/**
 * The metric names a PromQL expression reads. A reader's approximation, not a parser: it removes
 * what cannot be a name (strings, label matchers, ranges, grouping clauses, durations, numbers,
 * Grafana variables) and keeps the identifiers that are neither a call nor a keyword.
 */
export function metricNamesIn(expr: string): string[] {
  const named = [...expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)].map((m) => m[1]!);
  const rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#[^\n]*/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ')
    .replace(/\boffset\s+-?[\w.]+/gi, ' ')
    .replace(/@\s*[\w.]+(?:\(\))?/g, ' ');
  const names = [...rest.matchAll(/\d[\w.]*|([A-Za-z_:][\w:]*)(\s*\()?/g)]
    .filter((m) => m[1] !== undefined && m[2] === undefined && !KEYWORDS.has(m[1].toLowerCase()))
    .map((m) => m[1]!);
  return [...new Set([...named, ...names])].sort();
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}
interface Panel {
  type?: string;
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

export const ruleGroups = (): { name: string; rules: Rule[] }[] =>
  (parse(readFileSync(alertsPath, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;

const rules = (): Rule[] => ruleGroups().flatMap((g) => g.rules);

export const alertNames = (): string[] => rules().flatMap((r) => (r.alert ? [r.alert] : []));

/** The names alerts.yml records: they exist in Prometheus, never on a /metrics endpoint. */
export const recordedNames = (): string[] => [...new Set(rules().flatMap((r) => (r.record ? [r.record] : [])))];

export const dashboardPanels = (): Panel[] => {
  const all: Panel[] = [];
  const walk = (panels: Panel[] = []) =>
    panels.forEach((p) => {
      all.push(p);
      walk(p.panels);
    });
  walk((JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[] }).panels);
  return all;
};

/** Every PromQL expression of the rules file and the dashboard, each with where it comes from. */
export function deployQueries(): { source: string; expr: string }[] {
  return [
    ...rules().map((r) => ({ source: `alerts.yml ${r.alert ?? r.record}`, expr: r.expr })),
    ...dashboardPanels().flatMap((p) =>
      (p.targets ?? []).flatMap((t) => (t.expr ? [{ source: `repo-connector.json "${p.title}"`, expr: t.expr }] : [])),
    ),
  ];
}
