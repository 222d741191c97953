import { cpus, loadavg, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, WorkflowClient } from '@temporalio/client';
import { createLogger } from '../src/config/logger.js';
import { startStack } from '../test/support/start-stack.js';
import { admissionBreakdown } from './breakdown.js';
import { cpuByPart, cpuSnapshot, type PartOf } from './cpu.js';
import { apiClient } from './client.js';
import type { Bench, BenchContext, Row } from './context.js';
import { parseOptions } from './options.js';
import { rawGit } from './raw-git.js';
import { formatTable, writeJson } from './report.js';
import { createBenchRepos } from './repos.js';
import { admission } from './rows/admission.js';
import { clone } from './rows/clone.js';
import { contention } from './rows/contention.js';
import { envelope } from './rows/envelope.js';
import { idempotency } from './rows/idempotency.js';
import { memory } from './rows/memory.js';
import { oversize } from './rows/oversize.js';
import { readMemory } from './rows/read-memory.js';
import { reads } from './rows/reads.js';
import { throughput } from './rows/throughput.js';
import { buildService, startServices } from './services.js';

/** In table order; B8 and B14 after the rows whose connects they count, B9 after B1. */
const BENCHES: Bench[] = [
  admission,
  clone,
  throughput,
  idempotency,
  envelope,
  oversize,
  memory,
  contention,
  reads,
  readMemory,
];
const LIMIT_MB = 100;
/** Settings the bench passes on from its own environment, to measure the service tuned otherwise. */
const TUNABLE = ['WORKER_CONCURRENCY', 'ADMISSION_CONCURRENCY', 'WORKFLOW_CACHE_SIZE'];
const tuning = Object.fromEntries(TUNABLE.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));

const options = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(64);
  }
})();
const wanted = (id: string) => options.only.length === 0 || options.only.includes(id.split(' ')[0]!);
const selected = BENCHES.filter((b) => b.ids.some(wanted) || (b === admission && wanted('B9')));
const logger = createLogger({ level: 'warn', pretty: false });
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

const teardowns: Array<() => Promise<unknown>> = [];
let stopping: Promise<void> | undefined;
const stopAll = () =>
  (stopping ??= (async () => {
    for (const step of teardowns.reverse()) await step().catch((err: Error) => say(`teardown: ${err.message}`));
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping everything it started`);
    void stopAll().then(() => process.exit(130));
  });
}

const started = performance.now();
/** The machine's 1-minute load average when the bench began: other work on it skews every row. */
const loadAtStart = loadavg()[0]!;
try {
  say('starting PostgreSQL, Temporal, the Git server and moto');
  const { stack, stop } = await startStack(logger);
  teardowns.push(stop);
  say('creating repositories');
  const repos = await createBenchRepos(stack.gitRoot, LIMIT_MB, options.reposDir && path.resolve(options.reposDir));
  say('building the service (npm run build)');
  await buildService();
  say('starting the API and the worker');
  const profiling = options.cpuProfileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(options.cpuProfileDir)}`]
    : [];
  const services = await startServices(stack, { MAX_REPO_SIZE_MB: String(LIMIT_MB), ...tuning }, profiling);
  teardowns.push(services.stop);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  teardowns.push(() => connection.close());
  const workflows = new WorkflowClient({ connection });
  const api = await apiClient(services.apiUrl, services.jwtSecret, stack.gitToken);
  const scratch = path.join(stack.workDir, 'raw');
  await mkdir(scratch);
  let projectCount = 0;
  const projects: string[] = [];
  const partOf: PartOf = (pid, comm) => {
    if (pid === services.pids.worker) return { self: 'worker', children: "worker's git" };
    if (pid === services.pids.api) return { self: 'API', children: 'API' };
    if (pid === process.pid)
      return { self: 'bench (clients, Git server front)', children: 'Git server (git http-backend)' };
    if (comm === 'temporal') return { self: 'Temporal server', children: 'Temporal server' };
    if (comm === 'postgres') return { self: 'PostgreSQL', children: 'PostgreSQL' };
    return undefined;
  };
  const ctx: BenchContext = {
    runs: options.runs,
    stack,
    services,
    api,
    raw: rawGit(stack.gitToken, scratch),
    repos,
    url: (name, prefix = '') => `${stack.gitUrl}${prefix}/${name}.git`,
    bytesSent: async (key) => (await (await fetch(`${stack.gitUrl}/_bytes/${key}`)).json()) as number,
    limitMb: LIMIT_MB,
    rssAtStart: await services.rss(),
    openWorkflows: 0,
    results: new Map(),
    breakdown: (workflowId, through) => admissionBreakdown(workflows, workflowId, through),
    async cpu(work) {
      const before = await cpuSnapshot();
      const value = await work();
      return { value, cpuSeconds: cpuByPart(before, await cpuSnapshot(), partOf) };
    },
    async project() {
      const id = await api.createProject(`bench-${++projectCount}`);
      projects.push(id);
      return id;
    },
    projects,
    async countWorkflows(query) {
      await sleep(1500);
      const taskQueue = services.env.TEMPORAL_TASK_QUEUE;
      return (await workflows.count(`TaskQueue = "${taskQueue}" AND ${query}`)).count;
    },
  };
  const rows: Row[] = [];
  for (const bench of selected) {
    say(`running ${bench.ids.join(', ')}`);
    for (const row of await bench.run(ctx)) {
      ctx.results.set(row.id, row);
      if (wanted(row.id)) rows.push(row);
    }
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  const machine = {
    nproc: cpus().length,
    ramGb: Math.round(totalmem() / 1024 ** 3),
    git: execFileSync('git', ['--version']).toString().trim(),
    node: process.version,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0]! },
  };
  process.stdout.write(`${formatTable(rows)}\n`);
  await writeJson(options.json, rows, { date: new Date().toISOString(), machine, runs: options.runs, seconds });
  say(`done in ${seconds} s (load average ${loadAtStart.toFixed(1)} at the start); results in ${options.json}`);
} catch (err) {
  // After Ctrl-C the row in flight fails as its services go away; that is not news.
  if (!stopping) say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
