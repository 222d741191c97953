import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ada',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Grace',
  GIT_COMMITTER_EMAIL: 'grace@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/** Plain git in `dir`, as a test runs it to build a repository or to produce what a read must equal. */
export const git = (dir: string, ...args: string[]): Buffer =>
  execFileSync('git', ['-C', dir, ...args], { env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 });
const gitText = (dir: string, ...args: string[]) =>
  git(dir, ...args)
    .toString()
    .trim();

export const LFS_POINTER = `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 123456\n`;
export const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02, 0xff, 0x00]);
/** 5 MiB of numbered 64-byte lines: `line 000001 ` and padding. */
export const BIG_LINE = (n: number) => `line ${String(n).padStart(6, '0')} ${'x'.repeat(51)}\n`;
export const BIG_LINES = (5 * 1024 * 1024) / 64;
export const MANY_FILES = 2500;
/** A 100 KB line with a match half way. */
export const LONG_LINE = `${'a'.repeat(50_000)} needle ${'b'.repeat(50_000)}\n`;

export interface CodeReadRepo {
  dir: string;
  first: string;
  second: string;
  submodule: string;
}

async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
}

/**
 * A clone-like repository (a working tree with .git) of two commits. The first holds nested
 * directories, a binary file, an LFS pointer, a symlink out of the repository, a submodule
 * gitlink, a 5 MiB text file, a Latin-1 file, a 100 KB line and 2,500 files of one directory;
 * the second changes, renames and deletes some of them. The first is checked out; `main` is the second.
 */
export async function createCodeReadRepo(): Promise<CodeReadRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rc-code-read-'));
  git(dir, 'init', '--quiet', '--initial-branch=main');
  const many: Record<string, string> = {};
  for (let i = 0; i < MANY_FILES; i++) many[`many/f${String(i).padStart(4, '0')}.txt`] = `file ${i} needle\n`;
  await writeFiles(dir, {
    'README.md': 'hello world\nsecond line\n',
    'src/a.ts': "export const x = 'needle';\n",
    'src/nested/deep/b.ts': 'export const NEEDLE = 1;\n',
    'assets/logo.png': BINARY,
    'assets/model.bin': LFS_POINTER,
    'big.txt': Array.from({ length: BIG_LINES }, (_, i) => BIG_LINE(i + 1)).join(''),
    'latin1.txt': Buffer.from('caf\xe9\n', 'latin1'),
    'minified.js': LONG_LINE,
    'gone.txt': 'to be deleted\n',
    ...many,
  });
  await symlink('../../etc/passwd', path.join(dir, 'link-out'));
  git(dir, 'add', '--all');
  // A gitlink pins a commit of another repository: this one need not hold it.
  const submodule = '1234567890abcdef1234567890abcdef12345678';
  git(dir, 'update-index', '--add', '--cacheinfo', `160000,${submodule},vendor/sub`);
  git(dir, 'commit', '--quiet', '-m', 'first');
  const first = gitText(dir, 'rev-parse', 'HEAD');

  await writeFiles(dir, {
    'README.md': 'hello world\nsecond line\nthird line\n',
    'assets/logo.png': Buffer.concat([BINARY, BINARY]),
  });
  git(dir, 'mv', 'src/a.ts', 'src/a2.ts');
  git(dir, 'rm', '--quiet', 'gone.txt');
  // Not --all: the gitlink has no directory in the working tree, and would be staged as deleted.
  git(dir, 'add', 'README.md', 'assets/logo.png');
  git(dir, 'commit', '--quiet', '-m', 'second');
  const second = gitText(dir, 'rev-parse', 'HEAD');
  git(dir, 'checkout', '--quiet', first);
  return { dir, first, second, submodule };
}
