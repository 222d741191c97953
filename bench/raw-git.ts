import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { timed } from './stats.js';

const run = promisify(execFile);

/**
 * Plain git, as a user would run it against the bench's Git server: the token as an HTTP Basic
 * header (through git's environment-only config, as the service passes it), no user or system config.
 */
export function rawGit(token: string, scratch: string) {
  const env = {
    PATH: process.env.PATH,
    HOME: scratch,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`,
  };
  const git = (args: string[]) => run('git', args, { env, maxBuffer: 64 * 1024 * 1024 });
  /** Clones into a fresh folder (removed after) and returns the milliseconds git took. */
  const cloneInto = async (args: string[], url: string) => {
    const dir = await mkdtemp(path.join(scratch, 'raw-'));
    try {
      return (await timed(() => git(['clone', '--quiet', ...args, '--', url, path.join(dir, 'r')]))).ms;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  return {
    /** What admission does, raw: `git ls-remote`, then the tip-only fetch. */
    async probe(url: string): Promise<number> {
      const listed = await timed(() => git(['ls-remote', '--', url]));
      return listed.ms + (await cloneInto(['--depth=1', '--single-branch', '--no-tags', '--no-checkout'], url));
    },
    clone: (url: string) => cloneInto([], url),
    /** git on a clone on this machine's disk (its `.git` as `GIT_DIR`, as the read service runs it), timed, with its output. */
    async local(gitDir: string, args: string[]): Promise<{ ms: number; stdout: Buffer }> {
      const { ms, value } = await timed(() =>
        run('git', args, {
          env: { ...env, GIT_DIR: gitDir },
          cwd: gitDir,
          encoding: 'buffer',
          maxBuffer: 64 * 1024 * 1024,
        }),
      );
      return { ms, stdout: value.stdout };
    },
    /** A tip-only fetch killed once `stop()` says so; resolves with the milliseconds until then. */
    async fetchUntil(url: string, stop: () => Promise<boolean>): Promise<number> {
      const dir = await mkdtemp(path.join(scratch, 'raw-'));
      const controller = new AbortController();
      const start = performance.now();
      const fetching = run('git', ['clone', '--quiet', '--depth=1', '--no-checkout', '--', url, path.join(dir, 'r')], {
        env,
        signal: controller.signal,
      }).catch(() => undefined);
      try {
        while (!(await stop())) {
          if (await Promise.race([fetching.then(() => true), new Promise((r) => setTimeout(() => r(false), 5))])) break;
        }
        return performance.now() - start;
      } finally {
        controller.abort();
        await fetching;
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export type RawGit = ReturnType<typeof rawGit>;
