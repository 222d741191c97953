import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { classifyGitError, classifyGitFailure } from '../../src/git/classify.js';
import { gitEnvironment } from '../../src/git/git-env.js';
import { parseProgress } from '../../src/git/progress.js';
import { GitProcessError, runGit } from '../../src/git/run-git.js';
import { stderrTail } from '../../src/git/stderr-tail.js';
import { sandboxPaths } from '../../src/sandbox/sandbox.js';

describe('gitEnvironment', () => {
  const token = 'tok_0123456789abcdef';
  const env = gitEnvironment({ token, allowHttp: false });

  it('sends the token as an HTTP header through environment-only config', () => {
    const keys = Object.keys(env)
      .filter((k) => k.startsWith('GIT_CONFIG_KEY_'))
      .map((k) => env[k]);
    expect(keys).toContain('http.extraHeader');
    const header = Object.entries(env).find(
      ([k, v]) => k.startsWith('GIT_CONFIG_VALUE_') && v.startsWith('Authorization: Basic '),
    );
    const decoded = Buffer.from(header![1].slice('Authorization: Basic '.length), 'base64').toString();
    expect(decoded).toBe(`x-access-token:${token}`);
    expect(Object.values(env).some((v) => v.includes(token))).toBe(false);
  });

  it('never prompts, ignores host config and speaks https only unless loopback is allowed', () => {
    expect(env).toMatchObject({
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_ALLOW_PROTOCOL: 'https',
    });
    expect(gitEnvironment({ allowHttp: true }).GIT_ALLOW_PROTOCOL).toBe('https:http');
  });

  it('refuses a token that could break out of its header line', () => {
    expect(() => gitEnvironment({ token: 'abc\r\nX-Evil: 1', allowHttp: false })).toThrow();
  });
});

describe('classifyGitError', () => {
  it.each([
    ["fatal: Authentication failed for 'https://example.com/r.git/'", 'invalid_credentials'],
    ["fatal: could not read Username for 'https://example.com': terminal prompts disabled", 'invalid_credentials'],
    ["remote: Repository not found.\nfatal: repository 'https://example.com/r.git/' not found", 'repository_not_found'],
    ['fatal: unable to access: Could not resolve host: example.invalid', 'upstream_unavailable'],
    ['fatal: unable to access: The requested URL returned error: HTTP 503', 'upstream_unavailable'],
    ['fatal: write error: No space left on device', 'insufficient_storage'],
    ['fatal: something nobody expected', 'git_failed'],
    [
      "fatal: unable to access 'https://example.com/r.git/': The requested URL returned error: 401",
      'invalid_credentials',
    ],
    [
      "remote: Forbidden\nfatal: unable to access 'https://example.com/r.git/': The requested URL returned error: 403",
      'invalid_credentials',
    ],
    [
      "remote: Too many requests\nfatal: unable to access 'https://example.com/r.git/': The requested URL returned error: 429",
      'rate_limited',
    ],
    ['error: RPC failed; HTTP 429 curl 22 The requested URL returned error: 429', 'rate_limited'],
    [
      "remote: API rate limit exceeded for user ID 1.\nfatal: unable to access 'https://example.com/r.git/': The requested URL returned error: 403",
      'rate_limited',
    ],
    [
      'error: RPC failed; curl 92 HTTP/2 stream 5 was not closed cleanly: PROTOCOL_ERROR (err 1)',
      'upstream_unavailable',
    ],
    [
      'error: RPC failed; curl 56 GnuTLS recv error (-9): A TLS packet with unexpected length was received.',
      'upstream_unavailable',
    ],
    ['fatal: the remote end hung up unexpectedly', 'upstream_unavailable'],
    ['fatal: index-pack: premature end of pack file, 1024 bytes missing', 'upstream_unavailable'],
  ])('%s → %s', (stderr, code) => {
    expect(classifyGitError(stderr).code).toBe(code);
  });
});

describe('classifyGitFailure (a budget breach only when proven)', () => {
  const failed = (stderr: string, signal: NodeJS.Signals | null = null) =>
    new GitProcessError('failed', stderr, signal ? null : 128, undefined, signal);
  const midPackDrop = [
    'Receiving objects:  40% (2/5), 1.20 MiB | 1.00 MiB/s',
    'error: RPC failed; curl 18 transfer closed with outstanding read data remaining',
    'fatal: early EOF',
    'fatal: fetch-pack: invalid index-pack output',
  ].join('\n');

  it('reads a connection dropped mid-pack as upstream_unavailable, not as the size cap', () => {
    expect(classifyGitFailure(failed(midPackDrop)).code).toBe('upstream_unavailable');
  });

  it('does not take "invalid index-pack output" alone for proof of the size cap', () => {
    expect(classifyGitFailure(failed('fatal: fetch-pack: invalid index-pack output')).code).not.toBe(
      'repository_too_large',
    );
  });

  it.each([
    [
      'index-pack refused a write past the cap (EFBIG)',
      failed(
        'Receiving objects:  66% (2/3)\nfatal: write error: File too large\nfatal: fetch-pack: invalid index-pack output',
      ),
    ],
    ['git itself killed by SIGXFSZ', failed('', 'SIGXFSZ')],
    ['a child reported killed by SIGXFSZ', failed('error: index-pack died of signal 25\nfatal: index-pack failed')],
    ['our size watch', new GitProcessError('watch', midPackDrop, null, 'The repository exceeds the size limit')],
  ])('proves a budget breach: %s → repository_too_large', (_, err) => {
    expect(classifyGitFailure(err).code).toBe('repository_too_large');
  });

  it("never takes a server's words for the size cap", () => {
    expect(classifyGitFailure(failed('remote: fatal: File too large\nfatal: early EOF')).code).toBe(
      'upstream_unavailable',
    );
  });

  it('keeps the process error as its cause, for the log', () => {
    const err = failed(midPackDrop);
    expect(classifyGitFailure(err).cause).toBe(err);
  });
});

describe('stderrTail', () => {
  it("keeps the final state of each progress line and git's last words", () => {
    const tail = stderrTail('Receiving objects:  10% (1/10)\rReceiving objects:  50% (5/10)\r\nfatal: early EOF\n');
    expect(tail).toBe('Receiving objects:  50% (5/10)\nfatal: early EOF');
  });

  it('bounds the tail to 2 KB, keeping the end', () => {
    const tail = stderrTail(`${'x'.repeat(5000)}\nfatal: early EOF`);
    expect(tail.length).toBeLessThanOrEqual(2049);
    expect(tail.endsWith('fatal: early EOF')).toBe(true);
  });

  it('removes credentials: header values, URL user info, query values', () => {
    const tail = stderrTail(
      [
        '> Authorization: Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0',
        "fatal: unable to access 'https://user:ghp_abcdefghijklmnopqrstuvwxyz0123@example.com/r.git/?token=abc': error",
        'Bearer abcdefghijklmnop',
      ].join('\n'),
    );
    expect(tail).not.toMatch(/eC1hY2Nlc3M|ghp_|user:|token=abc|abcdefghijklmnop/);
    expect(tail).toContain('Authorization: ***');
  });
});

describe('sandboxPaths', () => {
  const project = '550e8400-e29b-41d4-a716-446655440000';
  const repo = '660e8400-e29b-41d4-a716-446655440001';

  it('builds <base>/<project_id>/<repo_id>/repository', () => {
    expect(sandboxPaths('/tmp/repos', project, repo).repository).toBe(`/tmp/repos/${project}/${repo}/repository`);
  });

  it('rejects anything that is not a UUID', () => {
    expect(() => sandboxPaths('/tmp/repos', '../../etc', repo)).toThrow(/project_id/);
    expect(() => sandboxPaths('/tmp/repos', project, `${repo}/..`)).toThrow(/repo_id/);
  });
});

describe('parseProgress', () => {
  it("reads stage, percent and bytes from git's progress lines", () => {
    expect(parseProgress('Receiving objects:  45% (9/20), 1.50 MiB | 2.00 MiB/s')).toEqual({
      stage: 'receiving objects',
      percent: 45,
      bytes: 1572864,
      bytesPerSecond: 2097152,
    });
    expect(parseProgress('Resolving deltas: 100% (3/3), done.')).toEqual({ stage: 'resolving deltas', percent: 100 });
    expect(parseProgress('remote: Counting objects: 10% (1/10)')).toEqual({ stage: 'counting objects', percent: 10 });
    expect(parseProgress("Cloning into 'x'...")).toBeUndefined();
  });

  it("reads git's receive rate next to the bytes, in any of its units", () => {
    expect(parseProgress('Receiving objects:  45% (9/20), 1.20 MiB | 2.00 MiB/s')).toMatchObject({
      bytes: 1258291,
      bytesPerSecond: 2097152,
    });
    expect(parseProgress('Receiving objects: 100% (20/20), 3.50 GiB | 512.00 KiB/s, done.')).toMatchObject({
      percent: 100,
      bytesPerSecond: 524288,
    });
    expect(parseProgress('Receiving objects:   5% (1/20), 900 bytes | 450 bytes/s')).toMatchObject({
      bytes: 900,
      bytesPerSecond: 450,
    });
    expect(parseProgress('Receiving objects:   5% (1/20), 1 byte | 1 byte/s')).toMatchObject({
      bytes: 1,
      bytesPerSecond: 1,
    });
    expect(parseProgress('remote: Compressing objects:  50% (5/10), 1.50 KiB | 1.00 KiB/s')).toMatchObject({
      stage: 'compressing objects',
      bytesPerSecond: 1024,
    });
  });

  it('has no rate where git shows none: before it has measured one, and in stages without bytes', () => {
    expect(parseProgress('Receiving objects:  10% (2/20)')).toEqual({ stage: 'receiving objects', percent: 10 });
    expect(parseProgress('Receiving objects:  10% (2/20), 64.00 KiB')).toEqual({
      stage: 'receiving objects',
      percent: 10,
      bytes: 65536,
    });
    expect(parseProgress('Resolving deltas:  50% (3/6)')).not.toHaveProperty('bytesPerSecond');
  });
});

describe('gitEnvironment hardening', () => {
  const env = gitEnvironment({ allowHttp: false, curlResolve: 'github.com:443:140.82.112.3' });
  const config = Object.fromEntries(
    Object.keys(env)
      .filter((k) => k.startsWith('GIT_CONFIG_KEY_'))
      .map((k) => [env[k], env[k.replace('KEY', 'VALUE')]]),
  );

  it('turns off everything in a repository that could run code or leave the sandbox', () => {
    expect(config).toMatchObject({
      'core.hooksPath': '/dev/null',
      'core.fsmonitor': 'false',
      'core.symlinks': 'false',
      'transfer.fsckObjects': 'true',
      'submodule.recurse': 'false',
      'http.followRedirects': 'false',
      'credential.helper': '',
      'http.curloptResolve': 'github.com:443:140.82.112.3',
    });
  });
});

describe('runGit priority', () => {
  /** The nice value git runs at, read by a shell alias git runs as its child (field 19 of /proc/self/stat). */
  const niceOfGit = async (background: boolean) =>
    Number(
      (
        await runGit({
          args: ['-c', 'alias.niceness=!cut -d" " -f19 /proc/self/stat', 'niceness'],
          env: { PATH: process.env.PATH!, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
          idleTimeoutMs: 10_000,
          background,
        })
      ).trim(),
    );

  it("runs a clone's git at a lower CPU priority, and a probe's at the worker's own", async () => {
    const own = getPriority();
    expect(await niceOfGit(false)).toBe(own);
    expect(await niceOfGit(true)).toBe(Math.min(own + 10, 19));
  });
});
