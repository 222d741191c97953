import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { directoryBlocks, fileBlocks, TreeEstimate } from '../../src/git/tree-estimate.js';
import { directorySize } from '../../src/sandbox/sandbox.js';
import { budgetHit, overBudget } from '../../src/activities/size-budget.js';
import type { ActivitySettings } from '../../src/activities/deps.js';

const run = promisify(execFile);
const env = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@e',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@e',
};
let work: string | undefined;

afterEach(async () => {
  if (work) await rm(work, { recursive: true, force: true });
  work = undefined;
});

const entry = (mode: string, type: string, size: string, file: string) =>
  `${mode} ${type} ${'0'.repeat(40)} ${size.padStart(7)}\t${file}\0`;

describe('per-entry overheads of the checkout estimate (4 KiB blocks)', () => {
  it('rounds a file up to blocks, takes none for an empty one, and adds the block maps of a large one', () => {
    expect(fileBlocks(0, 4096)).toBe(0);
    expect(fileBlocks(1, 4096)).toBe(1);
    expect(fileBlocks(4097, 4096)).toBe(2);
    expect(fileBlocks(13 * 4096, 4096)).toBe(14);
  });

  it('gives a directory one block while its entries fit, and half-full leaves with an index beyond', () => {
    expect(directoryBlocks(24, 4096)).toBe(1);
    expect(directoryBlocks(4096, 4096)).toBe(1);
    expect(directoryBlocks(4097, 4096)).toBe(4);
  });

  it('charges every directory, file and gitlink an inode and directories a block each, the root and the index included', () => {
    const estimate = new TreeEstimate(4096);
    estimate.add(
      Buffer.from(
        [
          entry('040000', 'tree', '-', 'a'),
          entry('040000', 'tree', '-', 'a/b'),
          entry('100644', 'blob', '1', 'a/b/f'),
          entry('100644', 'blob', '0', 'empty'),
          entry('120000', 'blob', '70', 'link'),
          entry('160000', 'commit', '-', 'sub'),
        ].join(''),
      ),
    );
    // Blocks: root, a, a/b, sub (directories), f and link (one each), the index; empty takes none.
    expect(estimate.stats()).toEqual({ bytes: 7 * 4096, inodes: 1 + 6 + 1, files: 3 });
  });

  it('reads entries split across chunks', () => {
    const whole = new TreeEstimate(4096);
    const split = new TreeEstimate(4096);
    const text = Buffer.from(
      Array.from({ length: 50 }, (_, i) => entry('100644', 'blob', '10', `d/f${i}`)).join(''),
    ).toString();
    whole.add(Buffer.from(entry('040000', 'tree', '-', 'd') + text));
    split.add(Buffer.from(entry('040000', 'tree', '-', 'd') + text.slice(0, 333)));
    split.add(Buffer.from(text.slice(333)));
    expect(split.stats()).toEqual(whole.stats());
  });

  it('bounds from above, closely, what a real checkout allocates on this filesystem', async () => {
    work = await mkdtemp(path.join(tmpdir(), 'rc-estimate-'));
    const source = path.join(work, 'source');
    for (let i = 0; i < 300; i += 1) {
      const dir = path.join(source, `d${i % 30}`, `sub-with-a-longer-name-${i % 7}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `file-${i}.txt`), 'x'.repeat(i * 37));
    }
    await symlink('a'.repeat(80), path.join(source, 'long-link'));
    await run('git', ['init', '--quiet', source], { env });
    await run('git', ['-C', source, 'add', '--all'], { env });
    await run('git', ['-C', source, 'commit', '--quiet', '-m', 'tree'], { env });
    const clone = path.join(work, 'clone');
    await run('git', ['clone', '--quiet', '--no-checkout', source, clone], { env });
    const before = await directorySize(clone);
    const listing = await run('git', ['-C', clone, 'ls-tree', '-r', '-t', '-l', '-z', '--full-tree', 'HEAD'], {
      env,
      encoding: 'buffer',
      maxBuffer: 1 << 24,
    });
    const { bsize } = await (await import('node:fs/promises')).statfs(clone);
    const estimate = new TreeEstimate(bsize);
    estimate.add(listing.stdout);
    await run('git', ['-C', clone, '-c', 'core.symlinks=false', 'checkout', '--quiet', 'HEAD', '--', '.'], { env });
    const after = await directorySize(clone);
    const predicted = estimate.stats();
    const actual = { bytes: after.bytes - before.bytes, inodes: after.inodes - before.inodes };
    expect(predicted.bytes).toBeGreaterThanOrEqual(actual.bytes);
    expect(predicted.bytes).toBeLessThan(1.2 * actual.bytes);
    expect(predicted.inodes).toBeGreaterThanOrEqual(actual.inodes);
    expect(predicted.inodes).toBeLessThanOrEqual(actual.inodes + 2);
  });
});

describe('the measurement', () => {
  it('counts allocated blocks and every inode (directories, symlinks, the root), files apart', async () => {
    work = await mkdtemp(path.join(tmpdir(), 'rc-measure-'));
    for (let i = 0; i < 20; i += 1) {
      await mkdir(path.join(work, `d${i}`, 'e'), { recursive: true });
      await writeFile(path.join(work, `d${i}`, 'e', 'f'), 'x');
    }
    await symlink('nowhere', path.join(work, 'link'));
    const usage = await directorySize(work);
    expect(usage.files).toBe(20);
    expect(usage.inodes).toBe(1 + 40 + 20 + 1);
    // 61 directories and 20 one-byte files take a block each (≥ 512 bytes); their lengths add up to 20 bytes.
    expect(usage.bytes).toBeGreaterThanOrEqual(81 * 512);
  });
});

describe('which budget a repository passes', () => {
  const settings = { maxRepoSizeMb: 1, maxRepoFiles: 10, maxRepoInodes: 100 } as ActivitySettings;

  it('names files, then inodes, then disk, with the measured value and the limit', () => {
    expect(budgetHit({ bytes: 0, inodes: 5, files: 11 }, settings)).toBe('files');
    expect(budgetHit({ bytes: 2 << 20, inodes: 101 }, settings)).toBe('inodes');
    expect(budgetHit({ bytes: (1 << 20) + 1, inodes: 1 }, settings)).toBe('disk');
    expect(budgetHit({ bytes: 1 << 20, inodes: 100, files: 10 }, settings)).toBeUndefined();
    const err = overBudget('clone', settings, { bytes: 4096, inodes: 150 });
    expect(err.details).toMatchObject({ budget: 'inodes', measured: 150, limit: 100, limit_mb: 1 });
    expect(err.message).toBe('Repository needs 150 inodes (files and directories), more than the 100 limit');
  });
});
