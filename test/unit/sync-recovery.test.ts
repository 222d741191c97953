import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeUnfinishedPacks } from '../../src/activities/sync-recovery.js';

let repo: string;
const packDir = () => path.join(repo, '.git', 'objects', 'pack');
beforeEach(async () => {
  repo = await mkdtemp(path.join(tmpdir(), 'rc-leftovers-'));
  await mkdir(packDir(), { recursive: true });
});
afterEach(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('removeUnfinishedPacks', () => {
  it('removes what a killed fetch or repack left, and keeps every whole pack', async () => {
    const files = [
      'pack-aa.pack',
      'pack-aa.idx',
      'pack-aa.rev', // whole
      'pack-bb.pack',
      'pack-bb.rev', // a repack killed before the index was renamed into place
      'pack-cc.idx', // an index without its pack
      'tmp_pack_x1',
      'tmp_idx_x1',
      '.tmp-123-pack-dd.pack',
      '.tmp-123-pack-dd.idx',
      'multi-pack-index',
    ];
    for (const file of files) await writeFile(path.join(packDir(), file), 'x');
    await removeUnfinishedPacks(repo);
    expect((await readdir(packDir())).sort()).toEqual([
      'multi-pack-index',
      'pack-aa.idx',
      'pack-aa.pack',
      'pack-aa.rev',
    ]);
  });
});
