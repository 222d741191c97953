import { randomBytes } from 'node:crypto';
import { access, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { createBareRepo, createRepoWithHeavyHistory } from '../test/support/git-repos.js';

const MB = 1024 * 1024;

/** `count` files of `bytes` random (incompressible) bytes each, under `dir/`. */
const randomFiles = (dir: string, count: number, bytes: number): Record<string, Buffer> =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`${dir}/${i}.bin`, randomBytes(bytes)]));

const WIDE_FOLDERS = 100;
const FILES_PER_FOLDER = 100;
const TEN_KB_FILE = 'docs/ten-kb.md';
const NEEDLE = 'bench-needle-23';

/** One small module of `wide`: distinct text (no two blobs alike), the needle in every 200th. */
function wideFile(n: number): string {
  const lines = Array.from({ length: 12 }, (_, i) => `export const value_${n}_${i} = ${(n * 31 + i * 17) % 1000};\n`);
  if (n % 200 === 0) lines.splice(6, 0, `// ${NEEDLE}: file ${n}\n`);
  return `// module ${n}\n${lines.join('')}`;
}

/** `wide`'s files: `src/m<folder>/f<file>.ts`, and the 10 KB file of 160 numbered 64-byte lines. */
const wideFiles = (): Record<string, string> => ({
  ...Object.fromEntries(
    Array.from({ length: WIDE_FOLDERS * FILES_PER_FOLDER }, (_, n) => [
      `src/m${String(Math.floor(n / FILES_PER_FOLDER)).padStart(2, '0')}/f${String(n % FILES_PER_FOLDER).padStart(2, '0')}.ts`,
      wideFile(n),
    ]),
  ),
  [TEN_KB_FILE]: Array.from({ length: 160 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'x'.repeat(54)}\n`).join(
    '',
  ),
});

/** Names of the repositories the bench serves (`<name>.git` under the Git server's root). */
export interface BenchRepos {
  tiny: string;
  /** ~20 MB of incompressible files in one commit: clone time is transfer and disk, not git's CPU. */
  medium: string;
  /** A tip over the size limit (`limitMb` + 20 %), for the oversize rejection. */
  oversize: string;
  /** A light tip over 2 MB of history, served slowly for long clones with a quick admission. */
  slowHistory: string;
  /** 10,000 small text files in 100 folders, and a 10 KB one: the reads' repository (B10–B13). */
  wide: string;
  /** The 10 KB file's path in `wide`. */
  tenKbFile: string;
  /** A fixed string on one line of every 200th file of `wide`: 50 matches, so a search reads the whole tree. */
  needle: string;
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
  await createBareRepo(gitRoot, 'bench-wide', wideFiles());
  return {
    tiny: 'bench-tiny',
    medium: 'bench-medium',
    oversize: 'bench-oversize',
    slowHistory: 'bench-slow',
    wide: 'bench-wide',
    tenKbFile: TEN_KB_FILE,
    needle: NEEDLE,
    real: realDir ? await linkRealRepos(gitRoot, realDir) : [],
  };
}
