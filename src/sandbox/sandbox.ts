import type { Stats } from 'node:fs';
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `<base>/<project_id>/<repo_id>/repository`, built from validated UUIDs only, so no input can
 * steer a path outside the sandbox root.
 */
export function sandboxPaths(
  basePath: string,
  projectId: string,
  repoId: string,
): { root: string; repository: string } {
  for (const [name, value] of [
    ['project_id', projectId],
    ['repo_id', repoId],
  ] as const) {
    if (!UUID.test(value)) throw new Error(`${name} is not a UUID`);
  }
  const root = path.join(path.resolve(basePath), projectId.toLowerCase(), repoId.toLowerCase());
  return { root, repository: path.join(root, 'repository') };
}

/**
 * Where a size probe fetches: `<base>/.probes/<repo_id>-<attempt>`, or, for admission's probe
 * kept for the clone, `<base>/.probes/<repo_id>`. Never under the sandbox itself: no row owns the
 * repository yet, and the sweep would take it for an orphan. Stale probes go after an hour.
 */
export function probePath(basePath: string, repoId: string, attempt?: number): string {
  if (!UUID.test(repoId)) throw new Error('repo_id is not a UUID');
  return path.join(
    path.resolve(basePath),
    '.probes',
    attempt === undefined ? repoId.toLowerCase() : `${repoId.toLowerCase()}-${attempt}`,
  );
}

/** Visits every entry under `dir` without following symlinks. */
async function walk(dir: string, visit: (file: string, stats: Stats) => Promise<void>): Promise<void> {
  for (const entry of await readdir(dir)) {
    const full = path.join(dir, entry);
    const stats = await lstat(full);
    if (stats.isDirectory()) await walk(full, visit);
    await visit(full, stats);
  }
}

/** What a directory takes on its filesystem. */
export interface DiskUsage {
  /** Allocated: `st_blocks × 512` of every entry (files, directories, symlinks) and the directory itself. */
  bytes: number;
  /** Every entry and the directory itself. */
  inodes: number;
  /** Regular files. */
  files: number;
}

/** Disk use as the budget counts it: blocks and inodes of the working tree plus `.git`, not file lengths. */
export async function directorySize(dir: string): Promise<DiskUsage> {
  const root = await lstat(dir);
  const usage = { bytes: root.blocks * 512, inodes: 1, files: 0 };
  await walk(dir, async (_file, stats) => {
    usage.bytes += stats.blocks * 512;
    usage.inodes += 1;
    if (stats.isFile()) usage.files += 1;
  });
  return usage;
}

/** An absent directory takes nothing (a clone not started yet, a probe gone). */
export const usageOf = (dir: string): Promise<DiskUsage> =>
  directorySize(dir).catch(() => ({ bytes: 0, inodes: 0, files: 0 }));

/** Drops every write bit, so later processing of the clone cannot alter it by accident. */
export async function makeReadOnly(dir: string): Promise<void> {
  await walk(dir, async (file, stats) => {
    if (!stats.isSymbolicLink()) await chmod(file, stats.mode & 0o555);
  });
  await chmod(dir, 0o555);
}

/** Gives the owner back its write bits, for a sync to rewrite the clone; makeReadOnly undoes it. */
export async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  await walk(dir, async (file, stats) => {
    if (!stats.isSymbolicLink()) await chmod(file, stats.mode | (stats.isDirectory() ? 0o700 : 0o200));
  });
}

/** Removes a sandbox directory, read-only or not. */
export async function removeSandbox(dir: string): Promise<void> {
  await walk(dir, async (file, stats) => {
    if (stats.isDirectory()) await chmod(file, 0o755);
  }).catch(() => {});
  await chmod(dir, 0o755).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}

export const bytesToMb = (bytes: number): number => Math.round((bytes / (1024 * 1024)) * 100) / 100;

/**
 * A size proven over `limitBytes`, in MB rounded up, so what a 413 reports is above the limit
 * too. A cap that fired proves only "more than the limit": that is at least limit + 1 byte.
 */
export const overLimitMb = (bytes: number, limitBytes: number): number =>
  Math.ceil((Math.max(bytes, limitBytes + 1) / (1024 * 1024)) * 100) / 100;

export interface SandboxEntry {
  projectId: string;
  repoId: string;
  root: string;
}

/** Every `<base>/<project_id>/<repo_id>` directory; anything not named by UUIDs is not ours and is left alone. */
export async function listSandboxes(basePath: string): Promise<SandboxEntry[]> {
  const entries: SandboxEntry[] = [];
  for (const projectId of await readdir(basePath).catch(() => [] as string[])) {
    if (!UUID.test(projectId)) continue;
    for (const repoId of await readdir(path.join(basePath, projectId)).catch(() => [] as string[])) {
      if (UUID.test(repoId)) entries.push({ projectId, repoId, root: path.join(basePath, projectId, repoId) });
    }
  }
  return entries;
}

/** Size-probe directories (`<base>/.probes/*`) last modified before `olderThan`. */
export async function listStaleProbes(basePath: string, olderThan: Date): Promise<string[]> {
  const dir = path.join(basePath, '.probes');
  const stale: string[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const full = path.join(dir, entry);
    const stats = await lstat(full).catch(() => undefined);
    if (stats && stats.mtime < olderThan) stale.push(full);
  }
  return stale;
}
