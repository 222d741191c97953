import { execFile } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { expireDeliveries } from '../../src/db/webhook-deliveries.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import {
  call,
  captureLogs,
  honoFor,
  startAppUnderTest,
  waitForState,
  type AppUnderTest,
} from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

const stack = inject('stack');
const logs = captureLogs();
let app: AppUnderTest;
let projectId: string;
/** Every webhook secret the API showed, for the search of the logs at the end. */
const secrets: string[] = [];

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' }, { logger: logs.logger });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'webhooks' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

interface Connected {
  bare: string;
  repoId: string;
  workflowId: string;
  secret: string;
  url: string;
}

/** A served repository, connected and cloned; its webhook secret as the connect answer showed it. */
async function connected(): Promise<Connected> {
  const name = `hooks-${randomUUID().slice(0, 8)}`;
  const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
  });
  expect(res.status).toBe(201);
  expect(res.body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  expect(res.body.webhook_url).toBe(`/api/v1/hooks/git/${res.body.repo_id}`);
  expect(res.headers.get('cache-control')).toBe('no-store');
  secrets.push(res.body.webhook_secret);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  return {
    bare,
    repoId: res.body.repo_id,
    workflowId: res.body.workflow_id,
    secret: res.body.webhook_secret,
    url: res.body.webhook_url,
  };
}

const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');
/** Each sender's headers for `body`, signed with `secret`, as its documentation gives them. */
const senders = {
  github: (secret: string, body: string, delivery: string, event = 'push') => ({
    'X-Hub-Signature-256': `sha256=${hmac(secret, body)}`,
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': delivery,
  }),
  gitlab: (secret: string, _body: string, delivery: string, event = 'Push Hook') => ({
    'X-Gitlab-Token': secret,
    'X-Gitlab-Event': event,
    'X-Gitlab-Event-UUID': delivery,
  }),
  gitea: (secret: string, body: string, delivery: string, event = 'push') => ({
    'X-Gitea-Signature': hmac(secret, body),
    'X-Gitea-Event': event,
    'X-Gitea-Delivery': delivery,
    // Gitea sends GitHub's headers too; its own come first.
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': delivery,
  }),
};

const pushBody = (ref: string, after: string) =>
  JSON.stringify({ ref, before: '1'.repeat(40), after, repository: { default_branch: 'main' } });

async function deliver(
  hook: Connected,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.api.url}${hook.url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, body: await res.json() };
}

const auditOf = (repoId: string, action: string) =>
  app.sql<
    { metadata: Record<string, unknown> }[]
  >`select metadata from audit_log where repo_id = ${repoId} and action = ${action} order by id`;

/** The sync signals the repository's workflow has received, from its history. */
async function syncSignals(hook: Connected): Promise<number> {
  const history = await app.temporal.workflow.getHandle(hook.workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'sync').length;
}

/** Waits for the `count`th sync to be recorded with `head`, and for the workflow to be waiting again. */
async function synced(hook: Connected, head: string, count: number) {
  await vi.waitFor(
    async () => {
      const rows = await auditOf(hook.repoId, 'repo.synced');
      expect(rows.length).toBe(count);
      expect(rows.at(-1)!.metadata).toMatchObject({ head_commit: head });
    },
    { timeout: 45_000, interval: 100 },
  );
  await waitForState(app, hook.workflowId, (s) => s.stage === 'ready');
  expect((await call(app, 'GET', `/api/v1/code/repos/${hook.repoId}`)).body.head_commit).toBe(head);
}

/** Pushes a commit, delivers the push as `sender` sends it, and waits for the `count`th sync to check it out. */
async function pushedAndSynced(hook: Connected, sender: keyof typeof senders, count: number) {
  await pushCommit(hook.bare, { 'README.md': `from ${sender}\n` });
  const head = await revParse(hook.bare, 'refs/heads/main');
  const body = pushBody('refs/heads/main', head);
  expect(await deliver(hook, body, senders[sender](hook.secret, body, randomUUID()))).toMatchObject({
    status: 202,
    body: { status: 'accepted' },
  });
  await synced(hook, head, count);
}

describe('push webhooks', () => {
  it('a signed GitHub push delivered 3 times: one sync, head_commit moves to the pushed commit', async () => {
    const hook = await connected();
    const repo = await call(app, 'GET', `/api/v1/code/repos/${hook.repoId}`);
    expect(JSON.stringify(repo.body)).not.toContain(hook.secret);
    const status = await call(app, 'GET', `/api/v1/code/repos/${hook.repoId}/status`);
    expect(JSON.stringify(status.body)).not.toContain(hook.secret);

    await pushCommit(hook.bare, { 'README.md': 'two\n' });
    const head = await revParse(hook.bare, 'refs/heads/main');
    const body = pushBody('refs/heads/main', head);
    const delivery = randomUUID();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await deliver(hook, body, senders.github(hook.secret, body, delivery)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(answers.map((a) => a.body)).toEqual([
      { status: 'accepted', repo_id: hook.repoId, delivery_id: delivery },
      { status: 'duplicate', repo_id: hook.repoId, delivery_id: delivery },
      { status: 'duplicate', repo_id: hook.repoId, delivery_id: delivery },
    ]);
    await synced(hook, head, 1);
    expect(await syncSignals(hook)).toBe(1);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('a push that force-rewinds the branch to an older commit is checked out, not taken as up to date', async () => {
    const hook = await connected();
    const older = await revParse(hook.bare, 'refs/heads/main');
    await pushCommit(hook.bare, { 'README.md': 'newer\n' });
    const newer = await revParse(hook.bare, 'refs/heads/main');
    const first = pushBody('refs/heads/main', newer);
    expect((await deliver(hook, first, senders.github(hook.secret, first, randomUUID()))).body.status).toBe('accepted');
    await synced(hook, newer, 1);
    await promisify(execFile)('git', ['-C', hook.bare, 'update-ref', 'refs/heads/main', older]);
    const rewind = pushBody('refs/heads/main', older);
    expect((await deliver(hook, rewind, senders.github(hook.secret, rewind, randomUUID()))).body.status).toBe(
      'accepted',
    );
    await synced(hook, older, 2);
    expect((await call(app, 'GET', `/api/v1/code/repos/${hook.repoId}`)).body.head_commit).toBe(older);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('one signed push replayed 50 times with fresh delivery ids: one sync, one audit row; the commit checked out is up_to_date', async () => {
    const hook = await connected();
    await pushCommit(hook.bare, { 'README.md': 'replayed\n' });
    const head = await revParse(hook.bare, 'refs/heads/main');
    const body = pushBody('refs/heads/main', head);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => deliver(hook, body, senders.github(hook.secret, body, randomUUID()))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
    const statuses = answers.map((a) => a.body.status);
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(1);
    expect(answers.filter((a) => a.body.status !== 'accepted').map((a) => a.body)).toEqual(
      Array(49).fill(expect.objectContaining({ status: 'ignored', reason: 'up_to_date' })),
    );
    await synced(hook, head, 1);
    // Once synced, the row's own commit: ignored as well, by the API alone.
    const after = await deliver(hook, body, senders.github(hook.secret, body, randomUUID()));
    expect(after.body).toMatchObject({ status: 'ignored', reason: 'up_to_date' });
    expect(await syncSignals(hook)).toBe(1);
    expect(await auditOf(hook.repoId, 'repo.synced')).toHaveLength(1);
    expect(await app.sql`select 1 from webhook_deliveries where repo_id = ${hook.repoId}`).toHaveLength(1);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('pushes over the per-repository rate are coalesced into one deferred sync: 202 coalesced, nothing signalled each, the newest push synced', async () => {
    const hook = await connected();
    // A token every 10 s: B's sync is over before the bucket refills, so C and D are over the rate.
    const limited = honoFor(app, logs.logger, { webhookSyncRateLimit: { burst: 1, perMinute: 6 } });
    const send = async (head: string) => {
      const body = pushBody('refs/heads/main', head);
      const res = await limited.request(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...senders.github(hook.secret, body, randomUUID()) },
        body,
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    await pushCommit(hook.bare, { 'README.md': 'B\n' });
    const b = await revParse(hook.bare, 'refs/heads/main');
    expect(await send(b)).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect((await send(b)).body).toMatchObject({ status: 'ignored', reason: 'up_to_date' });
    await synced(hook, b, 1);
    await pushCommit(hook.bare, { 'README.md': 'C\n' });
    const c = await revParse(hook.bare, 'refs/heads/main');
    await pushCommit(hook.bare, { 'README.md': 'D\n' });
    const d = await revParse(hook.bare, 'refs/heads/main');
    const [overC, overD] = [await send(c), await send(d)];
    expect([overC, overD]).toEqual(
      Array(2).fill(
        expect.objectContaining({
          status: 202,
          body: expect.objectContaining({ status: 'accepted', reason: 'coalesced' }),
        }),
      ),
    );
    // Nothing signalled per coalesced delivery; the pushes stay claimed, so a replay of one is up_to_date.
    expect(await syncSignals(hook)).toBe(1);
    expect(await app.sql`select last_push_after from code_repos where id = ${hook.repoId}`).toEqual([
      { lastPushAfter: d },
    ]);
    expect((await send(d)).body).toMatchObject({ status: 'ignored', reason: 'up_to_date' });
    // The deferred sync, once the bucket refills: one more signal, and the ref's tip (the newest push) checked out.
    await synced(hook, d, 2);
    expect(await syncSignals(hook)).toBe(2);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('GitLab and Gitea pushes each trigger a sync', async () => {
    const hook = await connected();
    await pushedAndSynced(hook, 'gitlab', 1);
    await pushedAndSynced(hook, 'gitea', 2);
    expect(await syncSignals(hook)).toBe(2);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it("a bad signature or token, or none, is a 401 and nothing is signalled or recorded; forged ones never stand in a real one's way", async () => {
    const hook = await connected();
    const body = pushBody('refs/heads/main', 'a'.repeat(40));
    const wrong = `${hook.secret}x`;
    const refused = [
      await deliver(hook, body, senders.github(wrong, body, randomUUID())),
      await deliver(hook, body, senders.gitlab(wrong, body, randomUUID())),
      await deliver(hook, body, senders.gitea(wrong, body, randomUUID())),
      // Signed, but not this body.
      await deliver(hook, body, senders.github(hook.secret, `${body} `, randomUUID())),
      await deliver(hook, body, {
        'X-Hub-Signature-256': 'sha256=zz',
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': randomUUID(),
      }),
      await deliver(hook, body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': randomUUID() }),
    ];
    expect(refused.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 401]);
    for (const r of refused) expect(r.body.detail.error).toBe('invalid_signature');
    expect(refused.at(-1)!.body.detail.message).toContain('X-Hub-Signature-256, X-Gitlab-Token');
    expect(await syncSignals(hook)).toBe(0);
    expect(await app.sql`select 1 from webhook_deliveries where repo_id = ${hook.repoId}`).toHaveLength(0);

    // Whoever knows the id can forge deliveries, past any per-repository limit (30 at once): the real one amid them is acted on.
    const forged = await Promise.all(
      Array.from({ length: 40 }, () => deliver(hook, body, senders.github(wrong, body, randomUUID()))),
    );
    expect(new Set(forged.map((r) => r.status))).toEqual(new Set([401]));
    await pushCommit(hook.bare, { 'README.md': 'real\n' });
    const head = await revParse(hook.bare, 'refs/heads/main');
    const real = pushBody('refs/heads/main', head);
    expect(await deliver(hook, real, senders.github(hook.secret, real, randomUUID()))).toMatchObject({
      status: 202,
      body: { status: 'accepted' },
    });
    await synced(hook, head, 1);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('other refs, deleted refs and other events are ignored; a delivery without an id is a 400', async () => {
    const hook = await connected();
    const head = await revParse(hook.bare, 'refs/heads/main');
    const send = (body: string, event?: string, delivery = randomUUID()) =>
      deliver(hook, body, senders.github(hook.secret, body, delivery, event));
    const other = await send(pushBody('refs/heads/feature', head));
    expect(other).toMatchObject({
      status: 202,
      body: { status: 'ignored', reason: 'Not a push to the connected ref (main)' },
    });
    // Another ref as a tag too.
    expect((await send(pushBody('refs/tags/feature', head))).body.status).toBe('ignored');
    const deleted = await send(pushBody('refs/heads/main', '0'.repeat(40)));
    expect(deleted).toMatchObject({ status: 202, body: { status: 'ignored', reason: 'The push deleted the ref' } });
    const ping = await send(JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }), 'ping');
    expect(ping).toMatchObject({ status: 202, body: { status: 'ignored', reason: 'Not a push event (ping)' } });
    const body = pushBody('refs/heads/main', head);
    const { 'X-GitHub-Delivery': _omitted, ...noDelivery } = senders.github(hook.secret, body, 'unused');
    const missing = await deliver(hook, body, noDelivery);
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toMatchObject({ error: 'bad_request' });
    expect(missing.body.detail.message).toContain('X-GitHub-Delivery');
    const notJson = 'payload=%7B%7D';
    expect((await deliver(hook, notJson, senders.github(hook.secret, notJson, randomUUID()))).status).toBe(400);
    expect(await syncSignals(hook)).toBe(0);
    expect(await app.sql`select 1 from webhook_deliveries where repo_id = ${hook.repoId}`).toHaveLength(0);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('unknown, disconnected and secret-less repositories; bodies over 1 MiB', async () => {
    const hook = await connected();
    const body = pushBody('refs/heads/main', 'a'.repeat(40));
    const signed = senders.github(hook.secret, body, randomUUID());
    expect((await deliver({ ...hook, url: `/api/v1/hooks/git/${randomUUID()}` }, body, signed)).status).toBe(404);
    expect((await deliver({ ...hook, url: '/api/v1/hooks/git/not-a-uuid' }, body, signed)).status).toBe(422);
    // In process: over a socket the 413 comes while the client is still sending, which closes the connection under it.
    const big = JSON.stringify({ ref: 'refs/heads/main', padding: 'x'.repeat(1024 * 1024) });
    const tooBig = await honoFor(app, logs.logger).request(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...senders.github(hook.secret, big, randomUUID()) },
      body: big,
    });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as any).detail).toMatchObject({
      error: 'payload_too_large',
      message: 'Request body exceeds 1024 KiB',
    });

    // A row from before webhooks: no secret to check against.
    await app.sql`update code_repos set webhook_secret_ciphertext = null, webhook_secret_kid = null where id = ${hook.repoId}`;
    const old = await deliver(hook, body, signed);
    expect(old.status).toBe(409);
    expect(old.body.detail.message).toContain('connect it again');

    expect((await call(app, 'DELETE', `/api/v1/code/repos/${hook.repoId}`)).status).toBe(202);
    const gone = await deliver(hook, body, signed);
    expect(gone).toMatchObject({ status: 409, body: { detail: { error: 'disconnected' } } });
    expect(await syncSignals(hook)).toBe(0);
  });

  it('a repeated connect answers the same webhook secret; a disconnect erases it', async () => {
    const name = `hooks-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    const request = {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    };
    const first = await call(app, 'POST', '/api/v1/code/connect', request);
    expect(first.status).toBe(201);
    secrets.push(first.body.webhook_secret);
    const again = await call(app, 'POST', '/api/v1/code/connect', request);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const list = await call(app, 'GET', `/api/v1/code/projects/${projectId}/repos`);
    expect(JSON.stringify(list.body)).not.toContain(first.body.webhook_secret);

    await call(app, 'DELETE', `/api/v1/code/repos/${first.body.repo_id}`);
    const [row] =
      await app.sql`select webhook_secret_ciphertext, webhook_secret_kid from code_repos where id = ${first.body.repo_id}`;
    expect(row).toEqual({ webhookSecretCiphertext: null, webhookSecretKid: null });
  });

  it('a signal Temporal does not take is a 503, and the delivery is forgotten so its redelivery acts', async () => {
    const hook = await connected();
    await pushCommit(hook.bare, { 'README.md': 'redelivered\n' });
    const head = await revParse(hook.bare, 'refs/heads/main');
    const body = pushBody('refs/heads/main', head);
    const delivery = randomUUID();
    const headers = { 'content-type': 'application/json', ...senders.github(hook.secret, body, delivery) };
    // A Temporal that is not there (nothing listens on port 1): the signal runs out its deadline.
    const down = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const refused = await honoFor(app, logs.logger, {}, { temporal: down }).request(hook.url, {
      method: 'POST',
      headers,
      body,
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(((await refused.json()) as any).detail.error).toBe('upstream_unavailable');
    expect(await app.sql`select 1 from webhook_deliveries where repo_id = ${hook.repoId}`).toHaveLength(0);

    expect(await deliver(hook, body, senders.github(hook.secret, body, delivery))).toMatchObject({
      status: 202,
      body: { status: 'accepted' },
    });
    await synced(hook, head, 1);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  }, 60_000);

  it('a delivery claimed by an attempt that died is taken over by its redelivery once stale; one under way or signalled is a duplicate', async () => {
    const hook = await connected();
    await pushCommit(hook.bare, { 'README.md': 'claimed\n' });
    const head = await revParse(hook.bare, 'refs/heads/main');
    const body = pushBody('refs/heads/main', head);
    const [stale, underWay, signalled] = [randomUUID(), randomUUID(), randomUUID()];
    // As an API process leaves them: claimed and dead before signalling (long ago, or a moment ago), or done.
    await app.sql`insert into webhook_deliveries (repo_id, delivery_id, received_at, signalled_at) values
      (${hook.repoId}, ${stale}, now() - interval '2 minutes', null),
      (${hook.repoId}, ${underWay}, now(), null),
      (${hook.repoId}, ${signalled}, now() - interval '2 minutes', now() - interval '2 minutes')`;
    expect((await deliver(hook, body, senders.github(hook.secret, body, underWay))).body.status).toBe('duplicate');
    expect((await deliver(hook, body, senders.github(hook.secret, body, signalled))).body.status).toBe('duplicate');
    expect((await deliver(hook, body, senders.github(hook.secret, body, stale))).body.status).toBe('accepted');
    await synced(hook, head, 1);
    const rows = await app.sql<{ deliveryId: string; signalled: boolean }[]>`
      select delivery_id, signalled_at is not null as signalled from webhook_deliveries where repo_id = ${hook.repoId} and delivery_id = ${stale}`;
    expect(rows).toEqual([{ deliveryId: stale, signalled: true }]);
    expect(await syncSignals(hook)).toBe(1);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('forgets deliveries older than the retention', async () => {
    const hook = await connected();
    await app.sql`insert into webhook_deliveries (repo_id, delivery_id, received_at) values
      (${hook.repoId}, 'old', now() - interval '8 days'), (${hook.repoId}, 'recent', now() - interval '6 days')`;
    // The retention schedule may have run first: either way the old one is gone, the recent one kept.
    await expireDeliveries(app.sql, app.config.WEBHOOK_DELIVERY_RETENTION_DAYS, 1000);
    expect(await app.sql`select delivery_id from webhook_deliveries where repo_id = ${hook.repoId}`).toEqual([
      { deliveryId: 'recent' },
    ]);
    await app.temporal.workflow.getHandle(hook.workflowId).signal(cleanupSignal);
  });

  it('never logs a webhook secret', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const text = logs.text();
    expect(text).toContain('webhook delivery');
    for (const secret of secrets) expect(text).not.toContain(secret.slice('whsec_'.length));
  });
});
