import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { createBareRepo } from '../support/git-repos.js';
import { startGitServer, type GitServer } from '../support/git-server.js';
import { callAt, honoFor, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
/** As deployed (GIT_ALLOW_LOOPBACK=false), in front of the worker of `app`, which would fetch from loopback. */
let strict: ReturnType<typeof honoFor>;
/** A Git server of this file alone, so any connection it sees came from one of these URLs. */
let git: GitServer;
let projectId: string;
/** host:port of `git`: the loopback URLs below point at it, so a bypass would show up there. */
let here: string;
let port: string;
let repo: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  strict = honoFor(app, createLogger({ level: 'silent' }), { allowLoopback: false });
  git = await startGitServer({ projectRoot: stack.gitRoot, token: stack.gitToken });
  ({ host: here, port } = new URL(git.url));
  repo = `hostile-target-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, repo, { 'README.md': 'a bypass would clone me\n' });
  projectId = (await callAt(app.api.url, await app.tokenFor(), 'POST', '/api/v1/projects', { name: 'hostile-urls' }))
    .body.id;
});

afterAll(async () => {
  await app?.stop();
  await git?.stop();
});

/**
 * [label, git_url, refused even with GIT_ALLOW_LOOPBACK=true]. Only a loopback URL in plain,
 * canonical form is legitimately allowed there (the tests' own Git server is one).
 */
const hostile = (): Array<[string, string, boolean]> => [
  ['option injection: --upload-pack', '--upload-pack=touch /tmp/pwned', true],
  ['option injection: -u', `-uhttp://${here}/${repo}.git`, true],
  ['a URL starting with -', `-http://${here}/${repo}.git`, true],
  ['ext:: transport', 'ext::sh -c touch% /tmp/pwned', true],
  ['file:///etc/passwd', 'file:///etc/passwd', true],
  ['file:// to the test repository', `file://${stack.gitRoot}/${repo}.git`, true],
  ['an absolute local path', '/srv/repo.git', true],
  ['a relative path ./', './repo', true],
  ['a relative path ../', '../repo', true],
  ['ssh:// with an option for a host', 'ssh://-oProxyCommand=touch%20/tmp/pwned/r.git', true],
  ['scp-like git@host:repo', 'git@github.com:octocat/Hello-World.git', true],
  ['git://', `git://${here}/${repo}.git`, true],
  ['protocol-relative //', `//${here}/${repo}.git`, true],
  ['upper-case scheme', `HTTP://${here}/${repo}.git`, true],
  ['one slash after the scheme', `http:/${here}/${repo}.git`, true],
  ['user and password', `http://user:pass@${here}/${repo}.git`, true],
  ['a token as the user', `http://${stack.gitToken}@${here}/${repo}.git`, true],
  ['%0d%0a in the path', `http://${here}/${repo}.git%0d%0aX-Injected:%201`, true],
  ['%00 in the path', `http://${here}/${repo}.git%00`, true],
  ['literal CR LF', `http://${here}/${repo}.git\r\nX-Injected: 1`, true],
  ['literal NUL', `http://${here}/${repo}\u0000.git`, true],
  ['a tab', `http://${here}/${repo}.git\t`, true],
  ['userinfo trick: public host as the user', `http://github.com@${here}/${repo}.git`, true],
  ['userinfo trick: # before @', `http://${here}#@github.com/${repo}.git`, true],
  ['userinfo trick: backslash before @', `http://${here}\\@github.com/${repo}.git`, true],
  ['octal loopback', `http://0177.0.0.1:${port}/${repo}.git`, true],
  ['hex loopback', `http://0x7f.1:${port}/${repo}.git`, true],
  ['decimal loopback', `http://2130706433:${port}/${repo}.git`, true],
  ['short loopback 127.1', `http://127.1:${port}/${repo}.git`, true],
  ['percent-encoded loopback', `http://%31%32%37.0.0.1:${port}/${repo}.git`, true],
  ['0.0.0.0 (this host)', `http://0.0.0.0:${port}/${repo}.git`, true],
  ['IPv4-mapped loopback, dotted', `http://[::ffff:127.0.0.1]:${port}/${repo}.git`, true],
  ['IPv4-mapped loopback, hex', `http://[::ffff:7f00:1]:${port}/${repo}.git`, true],
  ['IPv6 loopback, long form', `http://[0:0:0:0:0:0:0:1]:${port}/${repo}.git`, true],
  ['IPv6 unspecified', `http://[::]:${port}/${repo}.git`, true],
  ['metadata', 'https://169.254.169.254/latest/meta-data/iam', true],
  ['metadata, decimal', 'https://2852039166/latest/meta-data/iam', true],
  ['metadata, hex', 'https://0xa9fea9fe/latest/meta-data/iam', true],
  ['metadata, IPv4-mapped', 'https://[::ffff:a9fe:a9fe]/latest/meta-data/iam', true],
  ['metadata, IPv6 (EC2)', 'https://[fd00:ec2::254]/latest/meta-data/iam', true],
  ['metadata, GCP name', 'https://metadata.google.internal/computeMetadata/v1/project', true],
  ['a single-label internal name', 'https://gitlab/group/repo.git', true],
  ['IDN: circled l', `http://ⓛocalhost:${port}/${repo}.git`, true],
  ['IDN: Cyrillic o', `http://lоcalhost:${port}/${repo}.git`, true],
  ['IDN: ideographic full stop', `http://localhost。:${port}/${repo}.git`, true],
  ['IDN: fullwidth', `http://ｌｏｃａｌｈｏｓｔ:${port}/${repo}.git`, true],
  ['http to a public host', 'http://github.com/octocat/Hello-World.git', true],
  ['a port not allowed', 'https://github.com:8443/octocat/Hello-World.git', true],
  ['ssh port on https', 'https://github.com:22/octocat/Hello-World.git', true],
  ['a query', 'https://github.com/octocat/Hello-World.git?ref=main', true],
  ['a fragment', 'https://github.com/octocat/Hello-World.git#main', true],
  ['no repository path', `http://${here}`, true],
  ['overlong', `https://github.com/${'a'.repeat(3000)}.git`, true],
  ['IPv4-compatible IPv6 ::a00:1', 'https://[::a00:1]/r.git', true],
  ['NAT64 64:ff9b::/96', 'https://[64:ff9b::a00:1]/r.git', true],
  ['local NAT64 64:ff9b:1::/48', 'https://[64:ff9b:1::a00:1]/r.git', true],
  ['site-local fec0::/10', 'https://[fec0::1]/r.git', true],
  ['6to4 of loopback', 'https://[2002:7f00:1::1]/r.git', true],
  ['Teredo', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/r.git', true],
  ['documentation 2001:db8::/32', 'https://[2001:db8::1]/r.git', true],
  ['IPv6 zone id', 'https://[fe80::1%25eth0]/r.git', true],
  // Loopback as it is written when it is meant: refused only where loopback is not allowed.
  ['loopback over http', `http://${here}/${repo}.git`, false],
  ['loopback over https', `https://${here}/${repo}.git`, false],
  ['localhost', `http://localhost:${port}/${repo}.git`, false],
  ['localhost with a trailing dot', `http://localhost.:${port}/${repo}.git`, true],
  [
    'a public name with a trailing dot (its pin would not match on older curl)',
    'https://github.com./octocat/Hello-World.git',
    true,
  ],
  ['a name under .localhost', `http://git.localhost:${port}/${repo}.git`, false],
  ['IPv6 loopback', `http://[::1]:${port}/${repo}.git`, false],
];

const body = (gitUrl: string) => ({
  git_url: gitUrl,
  access_token: stack.gitToken,
  project_id: projectId,
  request_id: randomUUID(),
});

function expectRefused(
  status: number,
  detail: { error: string; issues: Array<{ path: string; message: string }> },
  gitUrl: string,
) {
  expect(status).toBe(422);
  expect(detail.error).toBe('validation_error');
  expect(detail.issues.map((i) => i.path)).toEqual(['git_url']);
  // It says which rule was broken, and never echoes the value (credentials may be in it).
  expect(detail.issues[0]!.message).toMatch(/^Invalid Git repository URL format: ./);
  expect(JSON.stringify(detail)).not.toContain(gitUrl);
}

describe('hostile git_url values never reach git', () => {
  it('the list is long enough to mean something', () => {
    expect(hostile().length).toBeGreaterThanOrEqual(35);
  });

  it('every one of them is a 422 naming git_url where loopback is not allowed (as deployed)', async () => {
    const auth = { authorization: `Bearer ${await app.tokenFor()}`, 'content-type': 'application/json' };
    for (const [label, gitUrl] of hostile()) {
      const res = await strict.request('/api/v1/code/connect', {
        method: 'POST',
        body: JSON.stringify(body(gitUrl)),
        headers: auth,
      });
      const { detail } = (await res.json()) as {
        detail: { error: string; issues: Array<{ path: string; message: string }> };
      };
      expect
        .soft({ label, status: res.status, error: detail.error })
        .toEqual({ label, status: 422, error: 'validation_error' });
      expectRefused(res.status, detail, gitUrl);
    }
  });

  it('all but plain loopback are a 422 from the API as the tests run it (GIT_ALLOW_LOOPBACK=true), over HTTP', async () => {
    const token = await app.tokenFor();
    const regardless = hostile().filter(([, , always]) => always);
    expect(regardless.length).toBeGreaterThanOrEqual(35);
    for (const [label, gitUrl] of regardless) {
      const res = await callAt(app.api.url, token, 'POST', '/api/v1/code/connect', body(gitUrl));
      expect.soft({ label, status: res.status }).toEqual({ label, status: 422 });
      expectRefused(res.status, res.body.detail, gitUrl);
    }
  });

  it('the Git server they point at saw no connection at all, and no repository row was made', async () => {
    expect(git.seen()).toEqual({ connections: 0, requests: 0 });
    const rows = await app.sql`select id from code_repos where project_id = ${projectId}`;
    expect(rows).toHaveLength(0);
  });

  it('while a plain loopback URL does reach that server (so a bypass would have shown)', async () => {
    const res = await callAt(
      app.api.url,
      await app.tokenFor(),
      'POST',
      '/api/v1/code/connect',
      body(`http://${here}/${repo}.git`),
    );
    expect(res.status).toBe(201);
    expect(git.seen().requests).toBeGreaterThan(0);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });

  it('and an IPv6 loopback literal clones for real (no pin entry for a literal: curl cannot parse one naming IPv6)', async () => {
    const ipv6 = await startGitServer({ projectRoot: stack.gitRoot, token: stack.gitToken, host: '::1' });
    try {
      const res = await callAt(
        app.api.url,
        await app.tokenFor(),
        'POST',
        '/api/v1/code/connect',
        body(`${ipv6.url}/${repo}.git`),
      );
      expect(res.status).toBe(201);
      await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
      expect(ipv6.seen().requests).toBeGreaterThan(0);
      await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
    } finally {
      await ipv6.stop();
    }
  });
});
