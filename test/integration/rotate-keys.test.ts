import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { decryptSecret, encryptSecret, type KeyProvider } from '../../src/crypto/envelope.js';
import { createKeyProvider } from '../../src/crypto/key-provider.js';
import { sealedFromBytes } from '../../src/crypto/sealed-secret.js';
import { encryptWebhookSecret, newWebhookSecret, openWebhookSecret } from '../../src/crypto/webhook-secret.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { encryptedDataConverter } from '../../src/crypto/payload-codec.js';
import { recordKeyInService } from '../../src/db/encryption-keys.js';
import { createSql } from '../../src/db/client.js';
import { createProject } from '../../src/db/projects.js';
import { insertRepo } from '../../src/db/repos.js';
import { migrate } from '../../src/db/migrate.js';
import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { rotateKeys } from '../../src/ops/rotate-keys.js';
import { loadFingerprintKey } from '../../src/api/request-fingerprint.js';
import { createKmsKey, kmsClient } from '../support/kms.js';

const run = promisify(execFile);
const stack = inject('stack');
// A database of its own: other test files store tokens under keys this test does not hold.
const database = `rc_rotate_${randomBytes(6).toString('hex')}`;
const databaseUrl = Object.assign(new URL(stack.adminUrl), { pathname: `/${database}` }).href;
let sql: ReturnType<typeof createSql>;
// The check counts every stored token by key: its test has a database of its own too.
const checkDatabase = `${database}_check`;
const checkDatabaseUrl = Object.assign(new URL(stack.adminUrl), { pathname: `/${checkDatabase}` }).href;
const context = (projectId: string, repoId: string) => `code_repos:${projectId}:${repoId}`;
let projectId: string;

beforeAll(async () => {
  await ensureDatabase(stack.adminUrl, database);
  sql = createSql(databaseUrl, { max: 2 });
  await migrate(sql);
  projectId = (await createProject(sql, { name: 'rotation', ownerId: 'ops' })).id;
});
afterAll(async () => {
  await sql?.end();
  await dropDatabase(stack.adminUrl, database);
  await dropDatabase(stack.adminUrl, checkDatabase);
});

/** Stores a repository whose token (and webhook secret, when given) is encrypted by `keys`. */
async function storeToken(
  keys: KeyProvider,
  token: string,
  into = { db: sql, projectId },
  webhookSecret?: string,
): Promise<string> {
  const { db, projectId } = into;
  const repoId = randomUUID();
  const { ciphertext, keyId } = await encryptSecret(keys, token, context(projectId, repoId));
  const hook = webhookSecret ? await encryptWebhookSecret(keys, webhookSecret, repoId) : undefined;
  await insertRepo(
    db,
    {
      id: repoId,
      projectId,
      gitUrl: 'https://example.com/r.git',
      tokenCiphertext: ciphertext,
      tokenKid: keyId,
      requestId: randomUUID(),
      workflowId: `wf-${repoId}`,
      runId: randomUUID(),
      estimatedSizeMb: 0.01,
      requestFingerprint: 'test',
      ...(hook
        ? {
            webhookSecretCiphertext: Buffer.from(hook.webhookSecretCiphertext, 'base64'),
            webhookSecretKid: hook.webhookSecretKid,
          }
        : {}),
    },
    { correlationId: 'test', requestId: randomUUID(), userId: 'ops' },
  );
  return repoId;
}

async function storedToken(repoId: string, db = sql) {
  const [row] = await db<
    { tokenCiphertext: Buffer; tokenKid: string }[]
  >`select token_ciphertext, token_kid from code_repos where id = ${repoId}`;
  return row!;
}

describe('npm run rotate-keys', () => {
  it('re-wraps tokens from an old local master key to a new one, without logging a token', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const token = `ghp_rotation_${randomUUID().replace(/-/g, '')}`;
    const webhookSecret = newWebhookSecret();
    const repoId = await storeToken(createLocalKeyProvider(oldKey), token, undefined, webhookSecret);
    // The fingerprint key the API made under the old key: it must stay the same key, only re-wrapped.
    const fingerprintKey = await loadFingerprintKey(sql, createLocalKeyProvider(oldKey));

    const env = {
      PATH: process.env.PATH!,
      DATABASE_URL: databaseUrl,
      MASTER_ENCRYPTION_KEY: newKey.toString('base64'),
      PREVIOUS_MASTER_ENCRYPTION_KEYS: oldKey.toString('base64'),
      LOG_LEVEL: 'debug',
    };
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/ops/rotate-keys-main.ts'], { env });
    expect(stdout + stderr).not.toContain(token);
    expect(stdout + stderr).not.toContain(webhookSecret);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ msg: 'key rotation finished', failed: 0 });
    expect(report.rewrapped).toBeGreaterThanOrEqual(1);

    const current = createLocalKeyProvider(newKey);
    const row = await storedToken(repoId);
    expect(row.tokenKid).toBe(current.keyId);
    expect(await decryptSecret(current, row.tokenCiphertext, row.tokenKid, context(projectId, repoId))).toBe(token);
    const [audit] = await sql`select metadata from audit_log where repo_id = ${repoId} and action = 'token.rewrapped'`;
    expect(audit!.metadata).toMatchObject({ to_key_id: current.keyId });
    // The webhook secret's data key too, under its own audit action; the secret itself unchanged.
    const [hook] = await sql<{ webhookSecretCiphertext: Buffer; webhookSecretKid: string }[]>`
      select webhook_secret_ciphertext, webhook_secret_kid from code_repos where id = ${repoId}`;
    expect(hook!.webhookSecretKid).toBe(current.keyId);
    expect(
      await openWebhookSecret(current, sealedFromBytes(hook!.webhookSecretCiphertext, hook!.webhookSecretKid), repoId),
    ).toBe(webhookSecret);
    expect(
      await sql`select 1 from audit_log where repo_id = ${repoId} and action = 'webhook_secret.rewrapped'`,
    ).toHaveLength(1);
    expect(await sql`select key_id from service_keys`).toEqual([{ keyId: current.keyId }]);
    expect(await loadFingerprintKey(sql, current)).toEqual(fingerprintKey);
  });

  it('moves tokens from a local master key to AWS KMS (moto)', async () => {
    const localKey = randomBytes(32);
    const token = `ghp_to_kms_${randomUUID().replace(/-/g, '')}`;
    const repoId = await storeToken(createLocalKeyProvider(localKey), token);
    const client = kmsClient(stack.kmsEndpoint);
    // KMS wraps from now on; the local key stays configured to open what it wrapped before.
    const provider = createKeyProvider(
      loadConfig({ KMS_KEY_ID: await createKmsKey(client), MASTER_ENCRYPTION_KEY: localKey.toString('base64') }),
      client,
    );
    await rotateKeys(sql, provider, createLogger({ level: 'silent' }));
    const row = await storedToken(repoId);
    expect(row.tokenKid).toBe(provider.keyId);
    expect(row.tokenKid).toMatch(/^arn:aws:kms:/);
    expect(await decryptSecret(provider, row.tokenCiphertext, row.tokenKid, context(projectId, repoId))).toBe(token);
  });
});

describe('npm run rotate-keys -- --check', () => {
  /** Runs the check as an operator would; its exit code and what it printed. */
  async function check(env: Record<string, string>): Promise<{ code: number; out: string }> {
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/ops/rotate-keys-main.ts', '--check'], {
        env: { PATH: process.env.PATH!, ...env },
      });
      return { code: 0, out: stdout };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, out: failed.stdout + failed.stderr };
    }
  }

  it('names what still needs an old key — stored tokens, then an open workflow — and says when it may go', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const [oldProvider, newProvider] = [createLocalKeyProvider(oldKey), createLocalKeyProvider(newKey, [oldKey])];
    // A namespace of its own: the shared one holds other files' open runs under keys this test does not hold.
    const namespace = `rotate-check-${randomUUID().slice(0, 8)}`;
    await ensureDatabase(stack.adminUrl, checkDatabase);
    const checkSql = createSql(checkDatabaseUrl, { max: 2 });
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      await migrate(checkSql);
      const into = {
        db: checkSql,
        projectId: (await createProject(checkSql, { name: 'key check', ownerId: 'ops' })).id,
      };
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      // A run started under the old key; no worker polls its queue, so it stays open with its input in history.
      const before = new Client({ connection, namespace, dataConverter: encryptedDataConverter(oldProvider) });
      const workflowId = `opened-under-old-key-${randomUUID()}`;
      // A new namespace reaches the frontend's cache a few seconds after it is registered.
      const handle = await vi.waitFor(
        () =>
          before.workflow.start('connectRepository', {
            taskQueue: `nobody-${randomUUID()}`,
            workflowId,
            args: [{ note: 'payload under the old key' }],
          }),
        { timeout: 30_000, interval: 500 },
      );
      const repoId = await storeToken(
        oldProvider,
        `ghp_check_${randomUUID().replace(/-/g, '')}`,
        into,
        newWebhookSecret(),
      );
      await recordKeyInService(checkSql, newProvider.keyId);
      const env = {
        DATABASE_URL: checkDatabaseUrl,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: namespace,
        MASTER_ENCRYPTION_KEY: newKey.toString('base64'),
        PREVIOUS_MASTER_ENCRYPTION_KEYS: oldKey.toString('base64'),
      };
      const oldLine = (out: string) => out.split('\n').find((line) => line.startsWith(oldProvider.keyId));

      // Visibility lists a new run a moment after it starts.
      const first = await vi.waitFor(
        async () => {
          const result = await check(env);
          expect(result.out).toContain('Open workflow runs scanned: 1');
          return result;
        },
        { timeout: 30_000, interval: 500 },
      );
      expect(first.code).toBe(2);
      expect(oldLine(first.out)).toBe(
        `${oldProvider.keyId}: KEEP — needed by 1 stored access token, 1 stored webhook secret, 1 open workflow run`,
      );
      expect(first.out).toContain(`oldest: ${workflowId}`);
      expect(first.out).toContain('run `npm run rotate-keys`');

      // Re-wrapping moves the stored tokens; the open run still holds the old key.
      await rotateKeys(checkSql, newProvider, createLogger({ level: 'silent' }));
      expect((await storedToken(repoId, checkSql)).tokenKid).toBe(newProvider.keyId);
      const second = await check(env);
      expect(second.code).toBe(2);
      expect(oldLine(second.out)).toBe(`${oldProvider.keyId}: KEEP — needed by 1 open workflow run`);
      expect(second.out).not.toContain('run `npm run rotate-keys`');

      // Once the run ends nothing holds it: it may go, and the retained history is named.
      await handle.terminate('rotation test');
      const third = await vi.waitFor(
        async () => {
          const result = await check(env);
          expect(result.out).toContain('Open workflow runs scanned: 0');
          return result;
        },
        { timeout: 30_000, interval: 500 },
      );
      expect(third.code).toBe(0);
      expect(oldLine(third.out)).toMatch(/: may be removed — no stored token, service key or open workflow uses it$/);
      expect(third.out).toContain('Every configured key but the current one may be removed');
      expect(third.out).toMatch(
        /1 closed run started before the current key: .* after the namespace retention \(1 day\)/,
      );
    } finally {
      await connection.close();
      await checkSql.end();
    }
  });

  it('refuses to run without Temporal: a check that cannot see open workflows would mislead', async () => {
    const result = await check({
      DATABASE_URL: databaseUrl,
      MASTER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    });
    expect(result.code).toBe(78);
    expect(result.out).toContain('TEMPORAL_ADDRESS: required');
  });
});
