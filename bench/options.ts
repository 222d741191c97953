import { parseArgs } from 'node:util';

export interface BenchOptions {
  runs: number;
  /** Row ids to run (upper case); all when empty. */
  only: string[];
  reposDir: string | undefined;
  json: string;
  /** Where the API and the worker write V8 CPU profiles (`.cpuprofile`) when they stop. */
  cpuProfileDir: string | undefined;
}

export const USAGE =
  'usage: npm run bench -- [--runs N (≥ 1, default 3)] [--only B1,B4] [--repos DIR] [--json PATH (default bench-results.json)] [--cpu-prof DIR]';

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      only: { type: 'string', default: '' },
      repos: { type: 'string' },
      json: { type: 'string', default: 'bench-results.json' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  if (values.help || !Number.isInteger(runs) || runs < 1) throw new Error(USAGE);
  return {
    runs,
    only: values.only
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean),
    reposDir: values.repos,
    json: values.json,
    cpuProfileDir: values['cpu-prof'],
  };
}
