import path from 'node:path';
import { cpuMsPer } from '../cpu.js';
import type { Bench, BenchContext, Row } from '../context.js';
import { factor } from '../report.js';
import { median, ms, percentile, pool, repeat, timed } from '../stats.js';

/** Sequential file reads (and as many `cat-file`s) per run. */
const FILE_READS = 50;
/** Full tree listings, and searches, per run. */
const LISTINGS = 5;
const SEARCHES = 10;
const TREE_PAGE = 1000;
/** Reads at once, and in all per run, for throughput. */
const CONCURRENCY = 20;
const CONCURRENT_READS = 400;

type Read = Awaited<ReturnType<BenchContext['api']['read']>>;

/** The read's answer, which must be a 200: anything else is a broken run, not a measurement. */
async function ok(row: string, reading: Promise<Read>): Promise<Read> {
  const read = await reading;
  if (read.status !== 200) throw new Error(`${row}: read answered ${read.status}: ${JSON.stringify(read.body)}`);
  return read;
}

/** p50 and p99 of the service's and git's samples of each run, the median of each over the runs. */
function latencies(perRun: Array<{ service: number[]; raw: number[] }>) {
  const over = (pick: (r: { service: number[]; raw: number[] }) => number[], p: number) =>
    median(perRun.map((r) => percentile(pick(r), p)));
  return {
    p50: over((r) => r.service, 50),
    p99: over((r) => r.service, 99),
    rawP50: over((r) => r.raw, 50),
    rawP99: over((r) => r.raw, 99),
  };
}

/** Runs `service` and then `raw` `count` times in alternation, so both see the same machine. */
async function alternate(count: number, service: () => Promise<number>, raw: () => Promise<number>) {
  const samples = { service: [] as number[], raw: [] as number[] };
  for (let i = 0; i < count; i++) {
    samples.service.push(await service());
    samples.raw.push(await raw());
  }
  return samples;
}

/** The wide repository connected and cloned, its clone's git directory on this machine, and what a read resolves. */
async function connectWide(ctx: BenchContext) {
  const project = await ctx.project();
  const admitted = await ctx.api.connect(project, ctx.url(ctx.repos.wide));
  if (admitted.status !== 201) throw new Error(`B10: connect of ${ctx.repos.wide} answered ${admitted.status}`);
  ctx.openWorkflows++;
  const repoId = admitted.repoId!;
  await ctx.api.waitCompleted(repoId, 100);
  const gitDir = path.join((await ctx.api.repo(repoId)).sandbox_path as string, '.git');
  const fileRead = `files/${ctx.repos.tenKbFile}`;
  const first = await ok('B10', ctx.api.read(repoId, fileRead));
  const { commit, oid, content } = first.body as { commit: string; oid: string; content: string };
  const blob = await ctx.raw.local(gitDir, ['cat-file', 'blob', oid]);
  if (blob.stdout.toString() !== content) throw new Error('B10: the service and git read different bytes');
  return { repoId, gitDir, commit, oid, fileRead, bytes: blob.stdout.length };
}

type Wide = Awaited<ReturnType<typeof connectWide>>;

/** B10: one file read at a time against `git cat-file blob` of its blob. */
async function fileLatency(ctx: BenchContext, wide: Wide): Promise<Row> {
  const perRun = await repeat(ctx.runs, () =>
    alternate(
      FILE_READS,
      async () => (await ok('B10', ctx.api.read(wide.repoId, wide.fileRead))).ms,
      async () => (await ctx.raw.local(wide.gitDir, ['cat-file', 'blob', wide.oid])).ms,
    ),
  );
  const l = latencies(perRun);
  return {
    id: 'B10',
    what: `read a ${(wide.bytes / 1024).toFixed(0)} KB file (JSON), median of ${ctx.runs} runs × ${FILE_READS}`,
    measured: `p50 ${ms(l.p50)}, p99 ${ms(l.p99)}`,
    floor: `git cat-file blob p50 ${ms(l.rawP50)}, p99 ${ms(l.rawP99)}`,
    ratio: `p50 +${ms(l.p50 - l.rawP50)}`,
    goal: 'p50 ≤ floor + 15 ms',
    met: l.p50 <= l.rawP50 + 15,
    data: { ...l, bytes: wide.bytes, perRun },
  };
}

/** Every page of the recursive tree, `TREE_PAGE` at a time: the total time, each page's, the entries. */
async function pageThrough(ctx: BenchContext, wide: Wide) {
  const pageMs: number[] = [];
  let entries = 0;
  const { ms: total } = await timed(async () => {
    let cursor: string | null = null;
    do {
      const read = await ok(
        'B11',
        ctx.api.read(wide.repoId, `tree?recursive=true&limit=${TREE_PAGE}${cursor ? `&cursor=${cursor}` : ''}`),
      );
      pageMs.push(read.ms);
      entries += (read.body.entries as unknown[]).length;
      cursor = read.body.next_cursor as string | null;
    } while (cursor);
  });
  return { total, pageMs, entries };
}

/** B11: the recursive tree paged to its end against `git ls-tree -r` of the same commit. */
async function treeListing(ctx: BenchContext, wide: Wide): Promise<Row> {
  let last: Awaited<ReturnType<typeof pageThrough>> | undefined;
  let rawLines = 0;
  const perRun = await repeat(ctx.runs, async () => {
    const samples = await alternate(
      LISTINGS,
      async () => (last = await pageThrough(ctx, wide)).total,
      async () => {
        const listed = await ctx.raw.local(wide.gitDir, ['ls-tree', '-r', wide.commit]);
        rawLines = listed.stdout.toString().split('\n').length - 1;
        return listed.ms;
      },
    );
    // What the service asks git for: sizes (-l) and the trees too (-t), NUL-separated, the whole listing at once.
    const sameListing = await ctx.raw.local(wide.gitDir, [
      'ls-tree',
      '-l',
      '-z',
      '--full-tree',
      '-r',
      '-t',
      wide.commit,
    ]);
    return { ...samples, sameListingMs: sameListing.ms };
  });
  const l = latencies(perRun);
  return {
    id: 'B11',
    what: `tree of a 10k-file repo, recursive, paged by ${TREE_PAGE} to the end (median of ${ctx.runs} runs × ${LISTINGS})`,
    measured: `${ms(l.p50)} (${last!.pageMs.length} pages, ${last!.entries} entries)`,
    floor: `git ls-tree -r ${ms(l.rawP50)} (${rawLines} entries)`,
    ratio: factor(l.p50, l.rawP50),
    goal: '≤ 1.5×',
    met: l.p50 <= 1.5 * l.rawP50,
    data: {
      ...l,
      entries: last!.entries,
      rawEntries: rawLines,
      // A page costs a listing up to its own end: the last run's pages, in order.
      pageMs: last!.pageMs,
      sameListingMs: median(perRun.map((r) => r.sameListingMs)),
      perRun,
    },
  };
}

/** B12: a fixed-string search of the whole tree against the same `git grep` the read service runs. */
async function search(ctx: BenchContext, wide: Wide): Promise<Row> {
  const grep = ['grep', '-n', '--column', '--null', '-I', '--no-color', '-F', '-e', ctx.repos.needle, wide.commit];
  let matches = 0;
  let rawMatches = 0;
  const perRun = await repeat(ctx.runs, () =>
    alternate(
      SEARCHES,
      async () => {
        const read = await ok('B12', ctx.api.read(wide.repoId, `search?q=${encodeURIComponent(ctx.repos.needle)}`));
        matches = (read.body.matches as unknown[]).length;
        if (read.body.truncated) throw new Error('B12: the search was cut off; it must read the whole tree');
        return read.ms;
      },
      async () => {
        const found = await ctx.raw.local(wide.gitDir, grep);
        rawMatches = found.stdout.toString().split('\n').length - 1;
        return found.ms;
      },
    ),
  );
  if (matches !== rawMatches) throw new Error(`B12: the service found ${matches} matches, git grep ${rawMatches}`);
  const l = latencies(perRun);
  return {
    id: 'B12',
    what: `search of a 10k-file tree, fixed string (median of ${ctx.runs} runs × ${SEARCHES})`,
    measured: `p50 ${ms(l.p50)}, p99 ${ms(l.p99)} (${matches} matches)`,
    floor: `git grep p50 ${ms(l.rawP50)}, p99 ${ms(l.rawP99)}`,
    ratio: factor(l.p50, l.rawP50),
    goal: '≤ 1.5×',
    met: l.p50 <= 1.5 * l.rawP50,
    data: { ...l, matches, perRun },
  };
}

/** `CONCURRENT_READS` calls of `once`, `CONCURRENCY` at a time: throughput, latencies and CPU by part. */
async function atConcurrency(ctx: BenchContext, once: () => Promise<number>) {
  const { value, cpuSeconds } = await ctx.cpu(() => timed(() => pool(CONCURRENT_READS, CONCURRENCY, once)));
  return {
    perSecond: (CONCURRENT_READS / value.ms) * 1000,
    p50: percentile(value.value, 50),
    p99: percentile(value.value, 99),
    cpuMsPerRead: cpuMsPer(cpuSeconds, CONCURRENT_READS),
  };
}

/** B13: the file read at concurrency 20 against `git cat-file blob` at the same concurrency. */
async function concurrentReads(ctx: BenchContext, wide: Wide): Promise<Row> {
  const perRun = await repeat(ctx.runs, async () => ({
    service: await atConcurrency(ctx, async () => (await ok('B13', ctx.api.read(wide.repoId, wide.fileRead))).ms),
    raw: await atConcurrency(ctx, async () => (await ctx.raw.local(wide.gitDir, ['cat-file', 'blob', wide.oid])).ms),
  }));
  const pick = (side: 'service' | 'raw', k: 'perSecond' | 'p50' | 'p99') => median(perRun.map((r) => r[side][k]));
  const perSecond = pick('service', 'perSecond');
  const rawPerSecond = pick('raw', 'perSecond');
  const p99 = pick('service', 'p99');
  return {
    id: 'B13',
    what: `${CONCURRENT_READS} reads of the file at concurrency ${CONCURRENCY} (median of ${ctx.runs})`,
    measured: `${perSecond.toFixed(0)}/s, p99 ${ms(p99)} (p50 ${ms(pick('service', 'p50'))})`,
    floor: `git cat-file blob ${rawPerSecond.toFixed(0)}/s, p99 ${ms(pick('raw', 'p99'))}`,
    ratio: `${(perSecond / rawPerSecond).toFixed(2)}× throughput`,
    goal: '≥ 0.5× throughput, p99 ≤ 100 ms',
    met: perSecond >= 0.5 * rawPerSecond && p99 <= 100,
    data: {
      perSecond,
      rawPerSecond,
      p50: pick('service', 'p50'),
      p99,
      rawP50: pick('raw', 'p50'),
      rawP99: pick('raw', 'p99'),
      // CPU per read by part, the last run's; the raw cat-files are the bench's children (its "Git server" part).
      cpuMsPerRead: perRun.at(-1)!.service.cpuMsPerRead,
      cpuMsPerRawRead: perRun.at(-1)!.raw.cpuMsPerRead,
      perRun,
    },
  };
}

/**
 * B10–B13: reads of the wide repository's clone through the API and the worker's read service,
 * each against git's own command on the same clone, in the same run.
 */
export const reads: Bench = {
  ids: ['B10', 'B11', 'B12', 'B13'],
  async run(ctx) {
    const wide = await connectWide(ctx);
    // What each row's reads leave in the worker, which hosts the read service (B14 measures after them).
    const workerRss: Record<string, number> = { beforeReads: (await ctx.services.rss()).worker };
    const rows: Row[] = [];
    for (const row of [fileLatency, treeListing, search, concurrentReads]) {
      rows.push(await row(ctx, wide));
      workerRss[`after${rows.at(-1)!.id}`] = (await ctx.services.rss()).worker;
    }
    rows.at(-1)!.data.workerRss = workerRss;
    return rows;
  },
};
