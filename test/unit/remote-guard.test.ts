import { describe, expect, it } from 'vitest';
import { isForbiddenAddress, pinRemote, type Lookup } from '../../src/git/remote-guard.js';
import { RepoError } from '../../src/shared/errors.js';

const resolvesTo = (...addresses: string[]): Lookup => async () => addresses.map((address) => ({ address }));
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof RepoError ? e.code : String(e)));

describe('isForbiddenAddress', () => {
  it.each([
    '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '127.0.0.1', '::1', '::ffff:127.0.0.1',
  ])('refuses %s', (address) => {
    expect(isForbiddenAddress(address, false)).toBe(true);
  });

  it.each(['140.82.112.3', '2606:50c0:8000::153', '8.8.8.8'])('allows public %s', (address) => {
    expect(isForbiddenAddress(address, false)).toBe(false);
  });

  it('allows loopback only when told to, and never private ranges', () => {
    expect(isForbiddenAddress('127.0.0.1', true)).toBe(false);
    expect(isForbiddenAddress('10.0.0.1', true)).toBe(true);
  });
});

describe('pinRemote', () => {
  it('pins the checked address for curl', async () => {
    const pinned = await pinRemote('https://github.com/octocat/Hello-World.git', false, resolvesTo('140.82.112.3'));
    expect(pinned).toMatchObject({ host: 'github.com', port: 443, address: '140.82.112.3', curlResolve: 'github.com:443:140.82.112.3' });
  });

  it('brackets IPv6 addresses in the resolve entry', async () => {
    const pinned = await pinRemote('https://example.com:8443/r.git', false, resolvesTo('2606:50c0:8000::153'));
    expect(pinned.curlResolve).toBe('example.com:8443:[2606:50c0:8000::153]');
  });

  it('refuses a host with any private address among its answers (DNS rebinding)', async () => {
    expect(await code(pinRemote('https://evil.example/r.git', false, resolvesTo('140.82.112.3', '10.0.0.5')))).toBe('invalid_url');
  });

  it.each([
    'https://2130706433/r.git', // 127.0.0.1 in decimal
    'https://0x7f.1/r.git', // hex
    'https://0177.0.0.1/r.git', // octal
    'https://[::ffff:169.254.169.254]/r.git',
    'https://169.254.169.254/latest/meta-data',
  ])('refuses IP literal %s in any notation', async (url) => {
    expect(await code(pinRemote(url, false, resolvesTo()))).toBe('invalid_url');
  });

  it('speaks http only to loopback, and only when loopback is allowed', async () => {
    expect(await code(pinRemote('http://127.0.0.1:9000/r.git', true))).toBe('ok');
    expect(await code(pinRemote('http://127.0.0.1:9000/r.git', false))).toBe('invalid_url');
    expect(await code(pinRemote('http://example.com/r.git', true, resolvesTo('140.82.112.3')))).toBe('invalid_url');
  });

  it('refuses credentials in the URL and treats DNS failure as a network error', async () => {
    expect(await code(pinRemote('https://user:pw@github.com/r.git', false, resolvesTo('140.82.112.3')))).toBe('invalid_url');
    const failing: Lookup = async () => {
      throw new Error('ENOTFOUND');
    };
    expect(await code(pinRemote('https://nowhere.invalid/r.git', false, failing))).toBe('upstream_unavailable');
  });
});
