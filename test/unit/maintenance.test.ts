import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maintainKeptClone } from '../../src/activities/sync-maintenance.js';
import { usageOf } from '../../src/sandbox/sandbox.js';
import type { ActivityDeps } from '../../src/activities/deps.js';

let base: string;
const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
const commit = async (dir: string, name: string) => {
  await writeFile(path.join(dir, name), `${name}\n`.repeat(2000));
  git(dir, 'add', '.');
  git(dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', name);
  return git(dir, 'rev-parse', 'HEAD');
};
const settings = () =>
  ({ sandboxBasePath: base, minFreeMb: 0, minFreeInodes: 0 }) as unknown as ActivityDeps['settings'];
const maintain = (repoDir: string, changed: boolean) =>
  maintainKeptClone(
    { settings: settings() },
    {
      repoId: 'r',
      repoDir,
      idleTimeoutMs: 30_000,
      limitBytes: 1 << 30,
      limitInodes: 1 << 20,
      measure: () => usageOf(repoDir),
      changed,
    },
  );

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'rc-maint-'));
  git(base, 'init', '-q', '-b', 'main', 'up');
});
afterEach(async () => {
  execFileSync('chmod', ['-R', 'u+w', base]);
  await rm(base, { recursive: true, force: true });
});

describe('maintainKeptClone', () => {
  it('keeps a ref reaching a detached HEAD (a followed tag), so the next fetch negotiates', async () => {
    const up = path.join(base, 'up');
    await commit(up, 'a');
    git(up, 'tag', 'v1');
    const clone = path.join(base, 'clone');
    execFileSync('git', ['clone', '-q', up, clone]);
    git(clone, 'checkout', '-q', '--detach', 'v1');
    await maintain(clone, true);
    const head = git(clone, 'rev-parse', 'HEAD');
    const reaching = git(clone, 'for-each-ref', '--contains', head, '--format=%(refname)');
    expect(reaching).not.toBe('');
    await commit(up, 'b');
    git(up, 'tag', '-f', 'v1');
    const objects = () =>
      git(clone, 'count-objects', '-v')
        .split('\n')
        .filter((l) => /^(count|in-pack):/.test(l))
        .reduce((n, l) => n + Number(l.split(':')[1]), 0);
    const before = objects();
    execFileSync('git', [
      '-C',
      clone,
      '-c',
      'transfer.unpackLimit=1000',
      'fetch',
      '-q',
      '--no-tags',
      `file://${up}`,
      '+refs/tags/v1:refs/connector/sync',
    ]);
    // The new commit, its tree and its blob only: the followed commit was a have.
    expect(objects() - before).toBe(3);
  });

  it('does not repack after a fast-forward, and does after a rewrite leaves garbage', async () => {
    const up = path.join(base, 'up');
    await commit(up, 'a');
    const clone = path.join(base, 'clone');
    execFileSync('git', ['clone', '-q', up, clone]);
    await maintain(clone, true);
    await commit(up, 'b');
    git(clone, 'fetch', '-q', 'origin');
    git(clone, 'reset', '-q', '--hard', 'origin/main');
    expect((await maintain(clone, true)).repacked).toBe(false);
    git(up, 'reset', '-q', '--hard', 'HEAD~1');
    await commit(up, 'c');
    git(clone, 'fetch', '-q', '--force', 'origin', '+main:refs/remotes/origin/main');
    git(clone, 'reset', '-q', '--hard', 'origin/main');
    expect((await maintain(clone, true)).repacked).toBe(true);
  });
});
