/** Nearest-rank percentile of `values` (0 < p ≤ 100); NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export const median = (values: number[]): number => percentile(values, 50);

/** Milliseconds `work` took, with its result. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

/** Runs `work(i)` for i in 0…count-1, at most `concurrency` at once; results in order. */
export async function pool<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

/** Runs `once` `runs` times in a row and returns every run's result. */
export async function repeat<T>(runs: number, once: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let run = 0; run < runs; run++) out.push(await once(run));
  return out;
}

export const ms = (n: number): string => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : Math.round(n)} ms` : 'n/a');
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
