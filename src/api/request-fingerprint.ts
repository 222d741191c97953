import { createHmac } from 'node:crypto';
import type { KeyProvider } from '../crypto/envelope.js';
import type { Sql } from '../db/client.js';
import { findServiceKey, insertServiceKey } from '../db/service-keys.js';

export const FINGERPRINT_KEY_NAME = 'request-fingerprint';

/**
 * The HMAC key of request fingerprints: made once for the deployment (every API process with
 * the same keys finds the same one), stored wrapped by the key provider, opened into memory only.
 */
export async function loadFingerprintKey(sql: Sql, keys: KeyProvider): Promise<Buffer> {
  let stored = await findServiceKey(sql, FINGERPRINT_KEY_NAME, (keyId) => keys.canDecrypt(keyId));
  if (!stored) {
    const { plaintext, wrapped, keyId } = await keys.generateDataKey();
    plaintext.fill(0);
    stored = await insertServiceKey(sql, { name: FINGERPRINT_KEY_NAME, wrappedKey: wrapped, keyId });
  }
  return keys.decryptDataKey(stored.wrappedKey, stored.keyId);
}

/**
 * What a request asks for, as a keyed hash: a repeat can be compared (another access token
 * included) without the token being kept, and without the key nothing about it can be tested.
 * A request without `ref` or a schedule hashes as before they existed, so rows written then still
 * match a repeat; the schedule goes in as an object, which no ref can be mistaken for.
 */
export const requestFingerprintOf = (
  key: Buffer,
  r: {
    workflowId: string;
    projectId: string;
    gitUrl: string;
    accessToken: string;
    ref?: string;
    syncIntervalSeconds?: number;
  },
): string => {
  const optional = [
    ...(r.ref === undefined ? [] : [r.ref]),
    ...(r.syncIntervalSeconds === undefined ? [] : [{ syncIntervalSeconds: r.syncIntervalSeconds }]),
  ];
  return `hmac1:${createHmac('sha256', key)
    .update(JSON.stringify([r.workflowId, r.projectId, r.gitUrl, r.accessToken, ...optional]))
    .digest('base64url')}`;
};
