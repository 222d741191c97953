import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { checkoutIndexBytes } from '../../src/git/index-size.js';

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
});

describe('the .git/index a checkout writes', () => {
  it('is bounded from above by checkoutIndexBytes, closely, for flat and deep trees with long names', async () => {
    work = await mkdtemp(path.join(tmpdir(), 'rc-index-'));
    const paths = [
      ...Array.from({ length: 300 }, (_, i) => `f${i}.txt`),
      ...Array.from({ length: 200 }, (_, i) => `deeply/nested/directory-${i % 7}/with-a-rather-long-file-name-${i}.md`),
      'ünïcödé/名前.txt',
    ];
    for (const file of paths) {
      await mkdir(path.dirname(path.join(work, file)), { recursive: true });
      await writeFile(path.join(work, file), file);
    }
    await run('git', ['init', '--quiet', work], { env });
    await run('git', ['-C', work, 'add', '--all'], { env });
    await run('git', ['-C', work, 'commit', '--quiet', '-m', 'tree'], { env });
    const clone = `${work}-clone`;
    await run('git', ['clone', '--quiet', '--no-checkout', work, clone], { env });
    await run('git', ['-C', clone, 'checkout', '--quiet', 'HEAD', '--', '.'], { env });
    const actual = (await stat(path.join(clone, '.git', 'index'))).size;
    await rm(clone, { recursive: true, force: true });

    const predicted = checkoutIndexBytes(paths);
    expect(predicted).toBeGreaterThanOrEqual(actual);
    expect(predicted - actual).toBeLessThan(0.05 * actual);
  });
});
