import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingGitRequirements } from '../../src/git/requirements.js';

const run = promisify(execFile);
/** Every program the start-up check (and so run-git) calls. */
const TOOLS = ['git', 'prlimit', 'setpriv', 'env', 'nice', 'true', 'sh', 'dd', 'od', 'wc'];
let scratch: string;

/** A PATH of one directory holding links to the real tools, minus `without`, plus `fakes` (name → script). */
async function pathWith(
  name: string,
  options: { without?: string; fakes?: Record<string, string> } = {},
): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir);
  for (const tool of TOOLS) {
    if (tool === options.without || options.fakes?.[tool]) continue;
    // `which`, not the shell's `command -v`: that names builtins such as `true` without a path.
    const { stdout } = await run('which', [tool]);
    await symlink(stdout.trim(), path.join(dir, tool));
  }
  for (const [tool, script] of Object.entries(options.fakes ?? {})) {
    await writeFile(path.join(dir, tool), script);
    await chmod(path.join(dir, tool), 0o755);
  }
  return dir;
}

/** Runs an entry point with only `PATH` for tools, to its end; its exit code and stderr. */
function runEntry(entry: string, PATH: string): Promise<{ code: number | null; stderr: string }> {
  const env = {
    PATH,
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    READ_SERVICE_SECRET: 'r'.repeat(32),
    DATA_DIR: path.join(scratch, 'data'),
  };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry], { env, timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr });
    });
  });
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'git-requirements-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the start-up check of what git relies on', () => {
  it('passes on this host, and on a PATH of exactly the tools it names (and no fewer)', async () => {
    expect(await missingGitRequirements()).toEqual([]);
    const saved = process.env.PATH;
    const complete = await pathWith('complete');
    const noNice = await pathWith('no-nice', { without: 'nice' });
    try {
      process.env.PATH = complete;
      expect(await missingGitRequirements()).toEqual([]);
      process.env.PATH = noNice;
      expect(await missingGitRequirements()).toEqual(['nice (clones at a lower CPU priority): install GNU coreutils']);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('the worker refuses to start without prlimit: exit 78 and one line naming it and util-linux', async () => {
    const { code, stderr } = await runEntry('src/worker/main.ts', await pathWith('no-prlimit', { without: 'prlimit' }));
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([
      'Cannot run git safely here, missing: prlimit (caps each file git writes): install util-linux',
    ]);
  }, 30_000);

  it('the worker refuses to start with a git older than 2.37', async () => {
    const PATH = await pathWith('old-git', { fakes: { git: '#!/bin/sh\necho "git version 2.30.0"\n' } });
    const { code, stderr } = await runEntry('src/worker/main.ts', PATH);
    expect(code).toBe(78);
    expect(stderr).toMatch(
      /^Cannot run git safely here, missing: git ≥ 2\.37 .*http\.curloptResolve.*: install a newer git$/m,
    );
  }, 30_000);

  it('so does `npm start` (its worker runs git), before it starts anything', async () => {
    const { code, stderr } = await runEntry('src/dev/main.ts', await pathWith('no-setpriv', { without: 'setpriv' }));
    expect(code).toBe(78);
    expect(stderr).toContain('missing: setpriv --pdeathsig (git dies with the worker): install util-linux');
  }, 30_000);
});
