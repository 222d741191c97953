import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { archive } from '../../src/code-read/archive.js';
import { listCommits, resolveCommit } from '../../src/code-read/commits.js';
import { compare } from '../../src/code-read/compare.js';
import type { CodeReadError } from '../../src/code-read/errors.js';
import { readFile, readRawFile, type FileContent } from '../../src/code-read/file.js';
import { validatePath } from '../../src/code-read/paths.js';
import { searchTree } from '../../src/code-read/search.js';
import { listTree, type TreeEntry } from '../../src/code-read/tree.js';
import { gitProcessesIn } from '../../src/git/processes.js';
import {
  BIG_LINE,
  BIG_LINES,
  BINARY,
  LFS_POINTER,
  MANY_FILES,
  createCodeReadRepo,
  git,
  type CodeReadRepo,
} from '../support/code-read-repo.js';

let repo: CodeReadRepo;
/** src/a.ts of the first commit, read while the first was checked out. */
let beforeMove: FileContent;
beforeAll(async () => {
  repo = await createCodeReadRepo();
  beforeMove = await readFile(repo.dir, repo.first, 'src/a.ts', { maxBytes: 1024 });
  // The checkout moves on (src/a.ts leaves it) and its files change under the reads: none of it may show in them.
  git(repo.dir, 'checkout', '--quiet', repo.second);
  await writeFile(path.join(repo.dir, '.gitattributes'), '* binary\n');
  await writeFile(path.join(repo.dir, '.mailmap'), 'Mallory <m@example.com> Ada <ada@example.com>\n');
  await rm(path.join(repo.dir, 'README.md'));
}, 60_000);
afterAll(() => rm(repo.dir, { recursive: true, force: true }));

const refused = (code: string) => expect.objectContaining({ name: 'CodeReadError', code });

describe('resolveCommit', () => {
  it('names HEAD, a branch, a tag-free prefix and a full id by the full id', async () => {
    expect(await resolveCommit(repo.dir)).toBe(repo.second);
    expect(await resolveCommit(repo.dir, 'main')).toBe(repo.second);
    expect(await resolveCommit(repo.dir, repo.first.slice(0, 10))).toBe(repo.first);
    expect(await resolveCommit(repo.dir, repo.first.toUpperCase())).toBe(repo.first);
  });

  it('is commit_not_found for an id the clone lacks, or one naming a tree', async () => {
    await expect(resolveCommit(repo.dir, '0'.repeat(40))).rejects.toEqual(refused('commit_not_found'));
    await expect(resolveCommit(repo.dir, 'no-such-branch')).rejects.toEqual(refused('commit_not_found'));
    const tree = git(repo.dir, 'rev-parse', `${repo.first}^{tree}`).toString().trim();
    await expect(resolveCommit(repo.dir, tree)).rejects.toEqual(refused('commit_not_found'));
  });

  it.each(['--output=x', '-h', 'HEAD~1', 'main@{0}', 'a b', 'a..b', '@', 'HEAD:README.md', ''])(
    'refuses %j before git sees it',
    async (commit) => {
      await expect(resolveCommit(repo.dir, commit)).rejects.toEqual(refused('invalid_argument'));
      expect(existsSync(path.join(repo.dir, '.git', 'x'))).toBe(false);
    },
  );

  it('is read_failed, saying nothing of the host, where there is no clone', async () => {
    const err = await resolveCommit(path.join(repo.dir, 'nowhere')).catch((e: unknown) => e);
    expect(err).toEqual(refused('read_failed'));
    expect((err as CodeReadError).message).not.toContain(repo.dir);
  });
});

describe('validatePath', () => {
  it.each([
    ['', ''],
    ['/', ''],
    ['src', 'src'],
    ['src/', 'src'],
    ['src/nested/deep/b.ts', 'src/nested/deep/b.ts'],
    ['*', '*'],
  ])('reads %j as %j', (given, path) => expect(validatePath(given)).toBe(path));

  it.each([
    '../x',
    'src/../../etc',
    '..',
    'a/..',
    '/etc/passwd',
    'a\0b',
    'a\\b',
    'a//b',
    './a',
    'a/./b',
    'x'.repeat(5000),
  ])('refuses %j', (p) => expect(() => validatePath(p)).toThrow(expect.objectContaining({ code: 'invalid_path' })));
});

const paths = (entries: TreeEntry[]) => entries.map((e) => e.path);

describe('listTree', () => {
  it('lists a directory: blobs with sizes, trees, a symlink with its target, a submodule', async () => {
    const { commit, entries, nextCursor } = await listTree(repo.dir, repo.first, { limit: 100 });
    expect(commit).toBe(repo.first);
    expect(nextCursor).toBeNull();
    expect(paths(entries)).toEqual([
      'README.md',
      'assets',
      'big.txt',
      'gone.txt',
      'latin1.txt',
      'link-out',
      'many',
      'minified.js',
      'src',
      'vendor',
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get('README.md')).toMatchObject({ type: 'blob', mode: '100644', size: 24 });
    expect(byPath.get('src')).toMatchObject({ type: 'tree', mode: '040000', size: null });
    // The target as the blob holds it: nothing outside the repository is looked at.
    expect(byPath.get('link-out')).toMatchObject({ type: 'symlink', mode: '120000', target: '../../etc/passwd' });
    const vendor = await listTree(repo.dir, repo.first, { path: 'vendor', limit: 10 });
    expect(vendor.entries).toEqual([
      { path: 'vendor/sub', type: 'submodule', mode: '160000', size: null, oid: repo.submodule },
    ]);
  });

  it('lists recursively, each tree before its contents; a file path lists that one entry', async () => {
    const { entries } = await listTree(repo.dir, repo.first, { path: 'src', recursive: true, limit: 100 });
    expect(paths(entries)).toEqual(['src/a.ts', 'src/nested', 'src/nested/deep', 'src/nested/deep/b.ts']);
    const one = await listTree(repo.dir, repo.first, { path: 'src/a.ts', limit: 100 });
    expect(one.entries).toEqual([expect.objectContaining({ path: 'src/a.ts', type: 'blob', size: 27 })]);
    const link = await listTree(repo.dir, repo.first, { path: 'link-out', limit: 100 });
    expect(link.entries).toEqual([expect.objectContaining({ type: 'symlink', target: '../../etc/passwd' })]);
  });

  it('pages 2,500 files at 1,000: every path once, in order', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listTree(repo.dir, repo.first, { path: 'many', limit: 1000, cursor });
      seen.push(...paths(page.entries));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(MANY_FILES);
    expect(new Set(seen).size).toBe(MANY_FILES);
    expect(seen).toEqual([...seen].sort());
  });

  it('pages a recursive listing of the whole tree to exactly the listing in one page', async () => {
    const whole = await listTree(repo.dir, repo.first, { recursive: true, limit: 10_000 });
    const paged: TreeEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await listTree(repo.dir, repo.first, { recursive: true, limit: 333, cursor });
      paged.push(...page.entries);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual(whole.entries);
    expect(whole.entries.length).toBe(MANY_FILES + 17);
  });

  it('is path_not_found for a path the commit lacks; pathspec magic is a plain name', async () => {
    for (const path of ['nope', 'src/a2.ts', '*', ':(glob)**', 'many/f*'])
      await expect(listTree(repo.dir, repo.first, { path, limit: 10 })).rejects.toEqual(refused('path_not_found'));
  });

  it('refuses a bad path, limit or cursor', async () => {
    await expect(listTree(repo.dir, repo.first, { path: '../x', limit: 10 })).rejects.toEqual(refused('invalid_path'));
    await expect(listTree(repo.dir, repo.first, { limit: 0 })).rejects.toEqual(refused('invalid_argument'));
    await expect(listTree(repo.dir, repo.first, { limit: 10, cursor: '!!' })).rejects.toEqual(
      refused('invalid_argument'),
    );
  });
});

describe('readFile', () => {
  const read = (path: string, o: Partial<Parameters<typeof readFile>[3]> = {}, commit = repo.first) =>
    readFile(repo.dir, commit, path, { maxBytes: 1024 * 1024, ...o });

  it('reads a text file with its blob id, size and lines', async () => {
    const file = await read('README.md');
    expect(file).toMatchObject({
      commit: repo.first,
      content: 'hello world\nsecond line\n',
      encoding: 'utf-8',
      lines: 2,
      startLine: 1,
      size: 24,
      truncated: false,
      binary: false,
      lfsPointer: null,
      type: 'blob',
    });
    expect(file.oid).toBe(git(repo.dir, 'rev-parse', `${repo.first}:README.md`).toString().trim());
  });

  it('reads the old commit after the checkout has moved and its files changed', async () => {
    expect(existsSync(path.join(repo.dir, 'src', 'a.ts'))).toBe(false);
    expect(await read('src/a.ts', { maxBytes: 1024 })).toEqual(beforeMove);
    expect(beforeMove.content).toBe("export const x = 'needle';\n");
    expect((await read('README.md', {}, repo.second)).content).toBe('hello world\nsecond line\nthird line\n');
  });

  it('tells a binary file by a NUL, and returns its bytes in base64', async () => {
    const file = await read('assets/logo.png');
    expect(file).toMatchObject({ binary: true, encoding: 'base64', lines: 0, truncated: false, lfsPointer: null });
    expect(Buffer.from(file.content, 'base64')).toEqual(BINARY);
  });

  it('recognises an LFS pointer by its spec header', async () => {
    const file = await read('assets/model.bin');
    expect(file).toMatchObject({ content: LFS_POINTER, binary: false });
    expect(file.lfsPointer).toEqual({ oid: `sha256:${'ab'.repeat(32)}`, size: 123456 });
  });

  it("returns a symlink's target as its content, never what it points at", async () => {
    expect(await read('link-out')).toMatchObject({ type: 'symlink', content: '../../etc/passwd', size: 16 });
  });

  it('returns text that is not UTF-8 in base64', async () => {
    const file = await read('latin1.txt');
    expect(file).toMatchObject({ binary: false, encoding: 'base64', lines: 1 });
    expect(Buffer.from(file.content, 'base64').toString('latin1')).toBe('caf\xe9\n');
  });

  it('truncates a 5 MiB file at a line end, then reads it by line range', async () => {
    const head = await read('big.txt');
    expect(head).toMatchObject({ size: BIG_LINES * 64, truncated: true, lines: 16384, startLine: 1 });
    expect(head.content).toBe(Array.from({ length: 16384 }, (_, i) => BIG_LINE(i + 1)).join(''));
    const tail = await read('big.txt', { startLine: BIG_LINES - 2, endLine: BIG_LINES + 10 });
    expect(tail).toMatchObject({ truncated: false, lines: 3, startLine: BIG_LINES - 2 });
    expect(tail.content).toBe([BIG_LINE(BIG_LINES - 2), BIG_LINE(BIG_LINES - 1), BIG_LINE(BIG_LINES)].join(''));
    const cut = await read('big.txt', { startLine: 1000, endLine: 2000, maxBytes: 100 });
    expect(cut).toMatchObject({ content: BIG_LINE(1000), truncated: true, lines: 1 });
  });

  it('cuts a line longer than maxBytes at a character boundary', async () => {
    const file = await read('minified.js', { maxBytes: 10 });
    expect(file).toMatchObject({ content: 'a'.repeat(10), truncated: true, lines: 1 });
  });

  it('refuses what is not a file of the commit', async () => {
    await expect(read('src')).rejects.toEqual(refused('not_a_file'));
    await expect(read('vendor/sub')).rejects.toEqual(refused('not_a_file'));
    await expect(read('/')).rejects.toEqual(refused('not_a_file'));
    await expect(read('src/a2.ts')).rejects.toEqual(refused('path_not_found'));
    await expect(read('../../etc/passwd')).rejects.toEqual(refused('invalid_path'));
    await expect(read('README.md', { startLine: 5, endLine: 2 })).rejects.toEqual(refused('invalid_argument'));
  });

  it('streams the raw bytes of a file', async () => {
    const raw = await readRawFile(repo.dir, repo.first, 'big.txt');
    const bytes = await buffer(raw.stream);
    const want = git(repo.dir, 'cat-file', 'blob', raw.oid);
    expect(bytes.length).toBe(BIG_LINES * 64);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(want).digest('hex'));
    expect(await buffer((await readRawFile(repo.dir, repo.first, 'assets/logo.png')).stream)).toEqual(BINARY);
  });

  it('kills git when the reader destroys the stream after its first chunk', async () => {
    const raw = await readRawFile(repo.dir, repo.first, 'big.txt');
    const [first] = (await once(raw.stream, 'data')) as [Buffer];
    expect(first.length).toBeLessThan(BIG_LINES * 64);
    raw.stream.destroy();
    await once(raw.stream, 'close');
    await vi.waitFor(async () => expect(await gitProcessesIn(repo.dir)).toEqual([]), { timeout: 3_000, interval: 50 });
  });

  it('cuts off a raw stream nobody reads after the idle timeout, git killed', async () => {
    const raw = await readRawFile(repo.dir, repo.first, 'big.txt', { idleTimeoutMs: 300 });
    const [err] = await once(raw.stream, 'error');
    expect(err).toMatchObject({ name: 'GitProcessError', reason: 'timeout' });
    expect(await gitProcessesIn(repo.dir)).toEqual([]);
  });
});

describe('searchTree', () => {
  const search = (o: Partial<Parameters<typeof searchTree>[2]>, commit = repo.first) =>
    searchTree(repo.dir, commit, { query: 'needle', maxMatches: 100, timeoutMs: 10_000, ...o });

  it('finds matches with line, column and preview, case-insensitively unless asked', async () => {
    const { matches, truncated } = await search({ paths: ['src'] });
    expect(truncated).toBe(false);
    expect(matches).toEqual([
      { path: 'src/a.ts', line: 1, column: 19, preview: "export const x = 'needle';" },
      { path: 'src/nested/deep/b.ts', line: 1, column: 14, preview: 'export const NEEDLE = 1;' },
    ]);
    const exact = await search({ paths: ['src'], caseSensitive: true, query: 'NEEDLE' });
    expect(exact.matches.map((m) => m.path)).toEqual(['src/nested/deep/b.ts']);
  });

  it('searches a regular expression when asked, and a fixed string otherwise', async () => {
    expect((await search({ query: 'ne+dle\\b', regex: true, paths: ['src/a.ts'] })).matches).toHaveLength(1);
    expect((await search({ query: 'ne+dle', paths: ['src/a.ts'] })).matches).toEqual([]);
    await expect(search({ query: '(', regex: true })).rejects.toEqual(refused('invalid_argument'));
  });

  it('ignores the working tree: its .gitattributes does not make files binary', async () => {
    const { matches } = await search({ query: 'third line' }, repo.second);
    expect(matches).toEqual([{ path: 'README.md', line: 3, column: 1, preview: 'third line' }]);
  });

  it('previews a long line around the match, bounded', async () => {
    const [match] = (await search({ paths: ['minified.js'] })).matches;
    expect(match).toMatchObject({ path: 'minified.js', line: 1, column: 50_002 });
    expect(match!.preview).toMatch(/^…a+ needle b+…$/);
    expect(Buffer.byteLength(match!.preview)).toBeLessThanOrEqual(206);
  });

  it('is an empty list when nothing matches, and skips binary files', async () => {
    expect(await search({ query: 'no such text anywhere' })).toEqual({
      commit: repo.first,
      matches: [],
      truncated: false,
    });
    expect((await search({ query: 'PNG' })).matches).toEqual([]);
  });

  it('stops at the match cap, truncated', async () => {
    const { matches, truncated } = await search({ paths: ['many'], maxMatches: 10 });
    expect(truncated).toBe(true);
    expect(matches.map((m) => m.path)).toEqual(Array.from({ length: 10 }, (_, i) => `many/f000${i}.txt`));
  });

  it('stops at the time cap, truncated, with git killed', async () => {
    const result = await search({ query: 'line 0', timeoutMs: 1 });
    expect(result.truncated).toBe(true);
    expect(await gitProcessesIn(repo.dir)).toEqual([]);
  });

  it('refuses a query git would read as more than one pattern', async () => {
    await expect(search({ query: 'a\nb' })).rejects.toEqual(refused('invalid_argument'));
    await expect(search({ query: '' })).rejects.toEqual(refused('invalid_argument'));
    await expect(search({ paths: ['../etc'] })).rejects.toEqual(refused('invalid_path'));
  });
});

describe('archive', () => {
  it.each(['tar.gz', 'zip'] as const)('streams exactly what git archive writes (%s)', async (format) => {
    const { commit, stream } = await archive(repo.dir, repo.first, { format });
    expect(commit).toBe(repo.first);
    expect((await buffer(stream)).equals(git(repo.dir, 'archive', `--format=${format}`, repo.first))).toBe(true);
  });

  it('archives only the given paths', async () => {
    const { stream } = await archive(repo.dir, repo.first, { format: 'tar.gz', paths: ['src', 'README.md'] });
    const want = git(repo.dir, 'archive', '--format=tar.gz', repo.first, '--', 'src', 'README.md');
    expect((await buffer(stream)).equals(want)).toBe(true);
  });

  it('is path_not_found for a path the commit lacks, before streaming', async () => {
    await expect(archive(repo.dir, repo.first, { format: 'zip', paths: ['src', 'nope'] })).rejects.toEqual(
      refused('path_not_found'),
    );
  });
});

describe('compare', () => {
  it('lists the changed files, renames found, binary counts null', async () => {
    const result = await compare(repo.dir, repo.first, repo.second);
    expect(result).toMatchObject({ base: repo.first, head: repo.second });
    expect(result.files).toEqual([
      { path: 'README.md', status: 'modified', additions: 1, deletions: 0 },
      { path: 'assets/logo.png', status: 'modified', additions: null, deletions: null },
      { path: 'gone.txt', status: 'deleted', additions: 0, deletions: 1 },
      { path: 'src/a2.ts', previousPath: 'src/a.ts', status: 'renamed', additions: 0, deletions: 0 },
    ]);
    expect(result.patch).toBeUndefined();
  });

  it('adds the patch when asked, capped at a line end', async () => {
    const { patch } = await compare(repo.dir, repo.first, repo.second, { patchMaxBytes: 1 << 20 });
    expect(patch!.truncated).toBe(false);
    expect(patch!.text).toContain('+third line\n');
    const capped = await compare(repo.dir, repo.first, repo.second, { patchMaxBytes: 100 });
    expect(capped.patch!.truncated).toBe(true);
    expect(capped.patch!.text.length).toBeLessThanOrEqual(100);
    expect(capped.patch!.text.endsWith('\n')).toBe(true);
  });

  it('refuses a base that is not a commit', async () => {
    await expect(compare(repo.dir, '--cached', repo.second)).rejects.toEqual(refused('invalid_argument'));
  });
});

describe('listCommits', () => {
  it('pages the history from the head, newest first, with author and committer', async () => {
    const first = await listCommits(repo.dir, { limit: 1 });
    expect(first.commits).toEqual([
      {
        oid: repo.second,
        parents: [repo.first],
        author: { name: 'Ada', email: 'ada@example.com', date: expect.any(String) },
        committer: { name: 'Grace', email: 'grace@example.com', date: expect.any(String) },
        subject: 'second',
      },
    ]);
    expect(first.nextCursor).not.toBeNull();
    const second = await listCommits(repo.dir, { limit: 1, cursor: first.nextCursor! });
    expect(second.commits.map((c) => [c.oid, c.parents, c.subject])).toEqual([[repo.first, [], 'first']]);
    expect(second.nextCursor).toBeNull();
  });

  it('starts where asked, and refuses a cursor it did not give', async () => {
    const { commits } = await listCommits(repo.dir, { from: repo.first, limit: 10 });
    expect(commits.map((c) => c.oid)).toEqual([repo.first]);
    await expect(listCommits(repo.dir, { limit: 1, cursor: 'bm9wZQ' })).rejects.toEqual(refused('invalid_argument'));
  });
});
