import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { decryptSecret, encryptSecret, type KeyProvider } from '../../src/crypto/envelope.js';
import { createKeyProvider } from '../../src/crypto/key-provider.js';
import { loadConfig } from '../../src/config/env.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
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
});

/** Stores a repository whose token is encrypted by `keys`. */
async function storeToken(keys: KeyProvider, token: string): Promise<string> {
  const repoId = randomUUID();
  const { ciphertext, keyId } = await encryptSecret(keys, token, context(projectId, repoId));
  await insertRepo(sql, {
    id: repoId, projectId, gitUrl: 'https://example.com/r.git', tokenCiphertext: ciphertext, tokenKid: keyId,
    requestId: randomUUID(), workflowId: `wf-${repoId}`, runId: randomUUID(), estimatedSizeMb: 0.01, requestFingerprint: 'test',
  }, { correlationId: 'test', requestId: randomUUID(), userId: 'ops' });
  return repoId;
}

async function storedToken(repoId: string) {
  const [row] = await sql<{ token_ciphertext: Buffer; token_kid: string }[]>`select token_ciphertext, token_kid from code_repos where id = ${repoId}`;
  return row!;
}

describe('npm run rotate-keys', () => {
  it('re-wraps tokens from an old local master key to a new one, without logging a token', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const token = `ghp_rotation_${randomUUID().replace(/-/g, '')}`;
    const repoId = await storeToken(createLocalKeyProvider(oldKey), token);
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
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ msg: 'key rotation finished', failed: 0 });
    expect(report.rewrapped).toBeGreaterThanOrEqual(1);

    const current = createLocalKeyProvider(newKey);
    const row = await storedToken(repoId);
    expect(row.token_kid).toBe(current.keyId);
    expect(await decryptSecret(current, row.token_ciphertext, row.token_kid, context(projectId, repoId))).toBe(token);
    const [audit] = await sql`select metadata from audit_log where repo_id = ${repoId} and action = 'token.rewrapped'`;
    expect(audit!.metadata).toMatchObject({ to_key_id: current.keyId });
    expect(await sql`select key_id from service_keys`).toEqual([{ key_id: current.keyId }]);
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
    expect(row.token_kid).toBe(provider.keyId);
    expect(row.token_kid).toMatch(/^arn:aws:kms:/);
    expect(await decryptSecret(provider, row.token_ciphertext, row.token_kid, context(projectId, repoId))).toBe(token);
  });
});
