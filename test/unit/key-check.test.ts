import { describe, expect, it } from 'vitest';
import { formatKeyCheck, mustKeep, payloadKeyIds, type KeyUse } from '../../src/ops/key-check.js';

const text = (s: string) => new TextEncoder().encode(s);
const use = (keyId: string, o: Partial<KeyUse> = {}): KeyUse => ({
  keyId,
  current: false,
  configured: true,
  tokens: 0,
  webhookSecrets: 0,
  serviceKeys: 0,
  openWorkflows: [],
  ...o,
});

describe('payloadKeyIds', () => {
  it('finds the key id of every encrypted payload in a history, however deep, and nothing else', () => {
    const history = {
      events: [
        {
          workflowExecutionStartedEventAttributes: {
            input: {
              payloads: [
                {
                  metadata: { 'encryption-key-id': text('kms:a'), encoding: text('binary/encrypted') },
                  data: text('x'),
                },
              ],
            },
          },
        },
        {
          activityTaskCompletedEventAttributes: {
            result: { payloads: [{ metadata: { 'encryption-key-id': text('local:b') } }] },
          },
        },
        // Search attributes and headers are plain payloads: no key.
        {
          upsertWorkflowSearchAttributesEventAttributes: {
            searchAttributes: { indexedFields: { RepoId: { metadata: { encoding: text('json/plain') } } } },
          },
        },
      ],
    };
    expect([...payloadKeyIds(history)].sort()).toEqual(['kms:a', 'local:b']);
  });
});

describe('formatKeyCheck', () => {
  it('keeps a configured key that stores hold, lets an idle one go, and flags a key used but not configured', () => {
    const keys = [
      use('local:new', { current: true, tokens: 4 }),
      use('local:old', { tokens: 2, serviceKeys: 1 }),
      use('local:idle'),
      use('arn:aws:kms:elsewhere', { configured: false, tokens: 3 }),
    ];
    const out = formatKeyCheck({ currentKeyId: 'local:new', keys, openWorkflowsScanned: 0 }).split('\n');
    expect(out).toContain('local:old: KEEP — needed by 2 stored access tokens, 1 service key');
    expect(out).toContain('local:idle: may be removed — no stored token, service key or open workflow uses it');
    expect(out.find((l) => l.startsWith('arn:aws:kms:elsewhere'))).toMatch(
      /not configured here.*KEEP — needed by 3 stored access tokens$/,
    );
    expect(out.at(-1)).toBe('1 configured old key still needed: keep it.');
    expect(keys.filter(mustKeep).map((k) => k.keyId)).toEqual(['local:old']);
  });

  it('keeps a key that only webhook secrets are stored under, and says rotate-keys moves them', () => {
    const keys = [use('local:new', { current: true }), use('local:hooks', { webhookSecrets: 2 })];
    const out = formatKeyCheck({ currentKeyId: 'local:new', keys, openWorkflowsScanned: 0 }).split('\n');
    expect(out).toContain('local:hooks: KEEP — needed by 2 stored webhook secrets');
    expect(out).toContain('  run `npm run rotate-keys` to re-wrap the stored ones under the current key');
    expect(keys.filter(mustKeep).map((k) => k.keyId)).toEqual(['local:hooks']);
  });
});
