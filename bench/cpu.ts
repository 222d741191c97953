import { readdir, readFile } from 'node:fs/promises';

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

interface ProcessCpu {
  comm: string;
  ppid: number;
  /** utime + stime: the process itself. */
  self: number;
  /** cutime + cstime: the children it has reaped. */
  reaped: number;
}

export type CpuSnapshot = Map<number, ProcessCpu>;

/** CPU time of every process on the machine now. */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const snapshot: CpuSnapshot = new Map();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after its last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const ticks = (i: number) => Number(fields[i]);
    snapshot.set(Number(entry), {
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(fields[1]),
      self: ticks(11) + ticks(12),
      reaped: ticks(13) + ticks(14),
    });
  }
  return snapshot;
}

/** A part's name for a process's own CPU, and for its children's (running or reaped). */
export type PartOf = (pid: number, comm: string) => { self: string; children: string } | undefined;

/**
 * CPU seconds spent between two snapshots, by part of the system: a process counts for the
 * nearest ancestor that `partOf` names (as that ancestor's children), or for itself when it is
 * named, so the git processes a worker runs count for the worker's git. Processes that ended
 * in between count through the parent that reaped them.
 */
export function cpuByPart(before: CpuSnapshot, after: CpuSnapshot, partOf: PartOf): Record<string, number> {
  const parts: Record<string, number> = {};
  const add = (part: string, ticks: number) => {
    if (ticks > 0) parts[part] = (parts[part] ?? 0) + ticks / TICKS_PER_SECOND;
  };
  const ancestorPart = (pid: number): string => {
    for (let p = after.get(pid)?.ppid; p && after.has(p); p = after.get(p)!.ppid) {
      const named = partOf(p, after.get(p)!.comm);
      if (named) return named.children;
    }
    return 'other';
  };
  for (const [pid, now] of after) {
    const was = before.get(pid);
    const named = partOf(pid, now.comm);
    add(named?.self ?? ancestorPart(pid), now.self - (was?.self ?? 0));
    add(named?.children ?? ancestorPart(pid), now.reaped - (was?.reaped ?? 0));
  }
  return parts;
}

/** CPU milliseconds per unit of work (a connect, a read), by part, and in all. */
export function cpuMsPer(cpuSeconds: Record<string, number>, count: number): Record<string, number> {
  const parts = Object.fromEntries(
    Object.entries(cpuSeconds).map(([part, s]) => [part, Math.round((s * 1000) / count)]),
  );
  return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}
