import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { maskDeep, maskSecret, maskString } from '../../src/config/masking.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'debug' }, stream), text: () => lines.join('') };
}

const gitToken = 'ghp_1234abcdefghijklmnopqrstuvwxyz5678';
const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl';

describe("the design's masking formats", () => {
  it("shows a Git token's first and last four characters, and *** for a short one", () => {
    expect(maskSecret(gitToken)).toBe('ghp_...5678');
    expect(maskSecret('short')).toBe('***');
  });

  it("shows only the start of a JWT's header", () => {
    expect(maskString(`token ${jwt} used`)).toBe('token eyJ0eXAi...*** used');
  });

  it('masks every URL query value and any userinfo', () => {
    expect(maskString('GET https://api.com/x?token=abc&page=2#top')).toBe(
      'GET https://api.com/x?token=***&page=***#top',
    );
    expect(maskString('https://user:pw@example.com/r.git')).toBe('https://***@example.com/r.git');
  });

  it('masks secret fields at any depth of a body', () => {
    expect(maskDeep({ a: { b: [{ access_token: 'abc' }] }, password: 12345, tokenKid: 'local:v1' })).toEqual({
      a: { b: [{ access_token: '***' }] },
      password: '***',
      tokenKid: 'local:v1',
    });
  });
});

describe('the logger applies the masking itself', () => {
  it('to fields at any depth, to headers, to the message and to errors', () => {
    const { logger, text } = capture();
    logger.info(
      { body: { nested: { access_token: gitToken } }, headers: { authorization: `Bearer ${jwt}` } },
      'connect',
    );
    logger.info(`message mentioning ${gitToken} and ${jwt} and https://x.io/?secret=hunter2`);
    logger.error({ err: new Error(`git failed for https://u:${gitToken}@x.io/r.git`) }, 'failed');
    const out = text();
    for (const secret of [gitToken, jwt, 'hunter2']) expect(out).not.toContain(secret);
    expect(out).toContain('ghp_...5678');
    expect(out).toContain('Bearer eyJ0eXAi...***');
    expect(out).toContain('secret=***');
  });
});
