import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../../src/activities/index.js';
import type { SweepResult } from '../../src/activities/cleanup.js';
import { openToken, type EncryptTokenInput } from '../../src/activities/encrypt-token.js';
import { encryptSecret } from '../../src/crypto/envelope.js';
import { transportContext, type EncryptedToken } from '../../src/shared/connect-repository.js';
import { createLogger } from '../../src/config/logger.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import type { Sql } from '../../src/db/client.js';
import { InvalidTransitionError } from '../../src/db/repo-transitions.js';
import { toActivityFailure } from '../../src/activities/failures.js';

let base: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'rc-unit-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const HOST = 'q-host-test';

/**
 * Activity dependencies with a stand-in for the database: a query naming one row's id (a row
 * lock) gets that row, any other query all of `rows`; a transaction runs on the same stand-in.
 */
function depsWith(rows: Array<{ id: string }> = []): ActivityDeps {
  const query = (_strings: TemplateStringsArray, ...values: unknown[]) => {
    const id = values.find((v): v is string => typeof v === 'string' && rows.some((r) => r.id === v));
    return Promise.resolve(
      id ? rows.filter((r) => r.id === id) : values.some((v) => typeof v === 'string') ? [] : rows,
    );
  };
  const sql = Object.assign(query, {
    begin: (work: (tx: unknown) => unknown) => work(sql),
  }) as unknown as Sql;
  return {
    sql,
    keys: createLocalKeyProvider(randomBytes(32)),
    logger: createLogger({ level: 'silent' }),
    settings: {
      sandboxBasePath: base,
      allowLoopback: false,
      allowedGitPorts: [443],
      maxGitOutputBytes: 1024 * 1024,
      gitCloneTimeoutSeconds: 5,
      maxRepoSizeMb: 1,
      maxRepoFiles: 100,
      sizeEstimateFactor: 1.5,
      taskQueue: 'unit-queue',
      hostTaskQueue: HOST,
      sandboxTtlSeconds: 60,
      minFreeMb: 0,
      reconcilePageSize: 100,
      retention: { auditDays: 400, webhookDeliveryDays: 7, batchSize: 1000 },
      maxRepoInodes: 1000,
      minFreeInodes: 0,
    },
  };
}

/** The activity's input as the API makes it: the token sealed for its trip through Temporal. */
async function sealed(
  deps: ActivityDeps,
  token: string,
  ids: { projectId: string; repoId: string },
): Promise<EncryptTokenInput> {
  const requestId = randomUUID();
  const { ciphertext, keyId } = await encryptSecret(deps.keys, token, transportContext(requestId));
  return { sealedToken: { ciphertext: ciphertext.toString('base64'), keyId }, requestId, ...ids };
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as ApplicationFailure,
  );

describe('activities (MockActivityEnvironment)', () => {
  it('encryptToken opens the sealed token and returns only ciphertext, bound to its repository', async () => {
    const deps = depsWith();
    const env = new MockActivityEnvironment();
    const ids = { projectId: randomUUID(), repoId: randomUUID() };
    const token = 'ghp_unit_test_token_0123456789';
    const encrypted: EncryptedToken = await env.run(
      createActivities(deps).encryptToken,
      await sealed(deps, token, ids),
    );
    expect(JSON.stringify(encrypted)).not.toContain(token);
    expect(await openToken(deps, { ...encrypted, ...ids })).toBe(token);
    await expect(openToken(deps, { ...encrypted, ...ids, repoId: randomUUID() })).rejects.toThrow();
  });

  it('checkRepositorySize refuses a metadata address before any network call, as a non-retryable invalid_url', async () => {
    const deps = depsWith();
    const env = new MockActivityEnvironment();
    const activities = createActivities(deps);
    const ids = { projectId: randomUUID(), repoId: randomUUID() };
    const token: EncryptedToken = await env.run(activities.encryptToken, await sealed(deps, 'ghp_0123456789', ids));
    const failure = await failureOf(
      env.run(activities.checkRepositorySize, { ...token, ...ids, gitUrl: 'https://169.254.169.254/r.git' }),
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'invalid_url', nonRetryable: true });
  });

  it('sweepSandboxes removes orphans, abandoned clones and clones another host owns, but keeps live ones', async () => {
    const project = randomUUID();
    const ids = {
      orphan: randomUUID(),
      failed: randomUUID(),
      live: randomUUID(),
      abandoned: randomUUID(),
      fresh: randomUUID(),
      moved: randomUUID(),
    };
    for (const id of Object.values(ids)) await mkdir(path.join(base, project, id, 'repository'), { recursive: true });
    await mkdir(path.join(base, 'not-a-uuid'), { recursive: true });
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const rows = [
      { id: ids.failed, cloneStatus: 'FAILED', sandboxPath: null, hostTaskQueue: HOST, updatedAt: new Date() },
      { id: ids.live, cloneStatus: 'COMPLETED', sandboxPath: 'x', hostTaskQueue: HOST, updatedAt: new Date() },
      { id: ids.abandoned, cloneStatus: 'CLONING', sandboxPath: null, hostTaskQueue: HOST, updatedAt: hourAgo },
      { id: ids.fresh, cloneStatus: 'CLONING', sandboxPath: null, hostTaskQueue: null, updatedAt: new Date() },
      // Its clone was retried on another host after this one died: what is left here is nobody's.
      {
        id: ids.moved,
        cloneStatus: 'COMPLETED',
        sandboxPath: 'y',
        hostTaskQueue: 'elsewhere-host',
        updatedAt: new Date(),
      },
    ];
    const env = new MockActivityEnvironment();
    const { removed }: SweepResult = await env.run(createActivities(depsWith(rows)).sweepSandboxes, { expired: false });
    expect(removed.map((p) => path.basename(p)).sort()).toEqual(
      [ids.orphan, ids.failed, ids.abandoned, ids.moved].sort(),
    );
    expect(existsSync(path.join(base, project, ids.live))).toBe(true);
    expect(existsSync(path.join(base, project, ids.fresh))).toBe(true);
    expect(existsSync(path.join(base, 'not-a-uuid'))).toBe(true);
  });
});

describe('activity failures', () => {
  it('an illegal status change is a non-retryable invalid_transition naming the transition', () => {
    const failure = toActivityFailure(new InvalidTransitionError(randomUUID(), 'COMPLETED', 'CLONING'));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'invalid_transition',
      nonRetryable: true,
      message: expect.stringMatching(/from COMPLETED to CLONING/),
    });
  });
});
