import { randomBytes } from 'node:crypto';
import { access, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { createBareRepo, createRepoWithHeavyHistory } from '../test/support/git-repos.js';

const MB = 1024 * 1024;

/** `count` files of `bytes` random (incompressible) bytes each, under `dir/`. */
const randomFiles = (dir: string, count: number, bytes: number): Record<string, Buffer> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`${dir}/${i}.bin`, randomBytes(bytes)]));

/** Names of the repositories the bench serves (`<name>.git` under the Git server's root). */
export interface BenchRepos {
  tiny: string;
  /** ~20 MB of incompressible files in one commit: clone time is transfer and disk, not git's CPU. */
  medium: string;
  /** A tip over the size limit (`limitMb` + 20 %), for the oversize rejection. */
  oversize: string;
  /** A light tip over 2 MB of history, served slowly for long clones with a quick admission. */
  slowHistory: string;
  /** The bare repositories of `--repos DIR`, linked in. */
  real: string[];
}

async function isBareRepo(dir: string): Promise<boolean> {
  return access(path.join(dir, 'HEAD'))
    .then(() => access(path.join(dir, 'objects')))
    .then(
      () => true,
      () => false,
    );
}

/** Links every bare repository directly under `dir` into the Git server's root as `real-<name>.git`. */
async function linkRealRepos(gitRoot: string, dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    const source = path.resolve(dir, entry);
    if (!(await isBareRepo(source))) continue;
    const name = `real-${entry.replace(/\.git$/, '').replace(/[^\w-]/g, '_')}`;
    await symlink(source, path.join(gitRoot, `${name}.git`));
    names.push(name);
  }
  if (names.length === 0)
    throw new Error(`--repos ${dir}: no bare repositories (a folder with HEAD and objects/) found directly in it`);
  return names;
}

export async function createBenchRepos(gitRoot: string, limitMb: number, realDir?: string): Promise<BenchRepos> {
  await createBareRepo(gitRoot, 'bench-tiny', {
    'README.md': '# tiny\n',
    'src/index.ts': 'export const answer = 42;\n',
  });
  await createBareRepo(gitRoot, 'bench-medium', { 'README.md': '# medium\n', ...randomFiles('data', 100, 200 * 1024) });
  await createBareRepo(gitRoot, 'bench-oversize', randomFiles('big', Math.ceil((limitMb * 1.2) / 8), 8 * MB));
  await createRepoWithHeavyHistory(gitRoot, 'bench-slow', randomFiles('history', 20, 100 * 1024), {
    'README.md': 'slow\n',
  });
  return {
    tiny: 'bench-tiny',
    medium: 'bench-medium',
    oversize: 'bench-oversize',
    slowHistory: 'bench-slow',
    real: realDir ? await linkRealRepos(gitRoot, realDir) : [],
  };
}
