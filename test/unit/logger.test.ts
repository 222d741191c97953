import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskSecret } from '../../src/config/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: 'debug' }, stream), lines };
}

describe('logging', () => {
  it('masks secrets in the design format', () => {
    expect(maskSecret('ghp_1234567890abcd')).toBe('ghp_...abcd');
    expect(maskSecret('short')).toBe('***');
    expect(maskSecret(undefined)).toBe('***');
  });

  it('never writes a token-like field in clear, at the top level or one level down', () => {
    const { logger, lines } = capture();
    const token = 'ghp_SECRETSECRETSECRET42';
    logger.info({ access_token: token, body: { access_token: token, token }, authorization: `Bearer ${token}` }, 'connect');
    const out = lines.join('');
    expect(out).not.toContain(token);
    expect(out).toContain('ghp_...ET42');
  });
});
