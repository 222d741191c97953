import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/client.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('isDatabaseUnavailable', () => {
  it('reads a refused, lost or not-yet-accepting connection as the database being unavailable', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'CONNECTION_CLOSED',
      'CONNECT_TIMEOUT',
      '08006',
      '57P01',
      '57P03',
      '53300',
    ]) {
      expect(isDatabaseUnavailable(withCode(code)), code).toBe(true);
    }
  });

  it('does not take a failed query, or our own pool ended, for an unavailable database', () => {
    for (const code of ['23505', '42P01', '40001', 'ENOENT', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED'])
      expect(isDatabaseUnavailable(withCode(code)), code).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });
});
