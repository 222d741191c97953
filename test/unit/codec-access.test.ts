import { describe, expect, it } from 'vitest';
import { hasScope } from '../../src/api/auth.js';
import { isLoopbackUiRequest, type LoopbackRequest } from '../../src/api/codec-access.js';
import { hostForUrl, isLoopbackHost, isLoopbackOrigin } from '../../src/config/loopback.js';

const UI = ['http://127.0.0.1:8233', 'http://localhost:8233'];
const ui: LoopbackRequest = {
  host: '127.0.0.1:8000',
  origin: 'http://127.0.0.1:8233',
  localAddress: '127.0.0.1',
  localPort: 8000,
};

describe('the loopback UI exception', () => {
  it("lets the embedded UI through, by either loopback name, to a loopback Host on the API's port", () => {
    expect(isLoopbackUiRequest(ui, UI)).toBe(true);
    expect(isLoopbackUiRequest({ ...ui, origin: 'http://localhost:8233', host: 'localhost:8000' }, UI)).toBe(true);
    expect(isLoopbackUiRequest({ ...ui, host: '[::1]:8000', localAddress: '::1' }, UI)).toBe(true);
    expect(isLoopbackUiRequest({ ...ui, host: '127.0.0.1', localPort: 80 }, UI)).toBe(true);
  });

  const refused: Array<[string, Partial<LoopbackRequest>]> = [
    ['no Origin', { origin: undefined }],
    ['another origin', { origin: 'https://evil.example' }],
    ['another port of a UI origin', { origin: 'http://127.0.0.1:9999' }],
    ["an origin that only starts like the UI's", { origin: 'http://127.0.0.1:82330' }],
    ['a DNS-rebound name in Host', { host: 'evil.example:8000' }],
    ['a name that only ends like loopback', { host: 'localhost.evil.example:8000' }],
    ['userinfo in Host', { host: 'evil.example@127.0.0.1:8000' }],
    ['another port in Host', { host: '127.0.0.1:8001' }],
    ['no port in Host, API not on 80', { host: '127.0.0.1' }],
    ['no Host', { host: undefined }],
    ['a socket on another interface', { localAddress: '10.0.0.5' }],
    ['no socket (not served by node)', { localAddress: undefined, localPort: undefined }],
    ['a request relayed by a proxy or tunnel (Forwarded, X-Forwarded-*, Via)', { forwarded: true }],
  ];
  for (const [label, change] of refused) {
    it(`refuses ${label}`, () => expect(isLoopbackUiRequest({ ...ui, ...change }, UI)).toBe(false));
  }

  it('applies to no one when no UI origin is exempt', () => expect(isLoopbackUiRequest(ui, [])).toBe(false));
});

describe('loopback names', () => {
  it('knows the hosts and origins that only this machine answers', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host), host).toBe(true);
    // A HOST setting is bare: `[::1]` is a URL's spelling, which nothing can bind.
    for (const host of ['0.0.0.0', '::', '[::1]', '10.0.0.1', 'localhost.example'])
      expect(isLoopbackHost(host), host).toBe(false);
    for (const origin of ['http://127.0.0.1:8233', 'http://localhost:8233', 'https://[::1]:8443'])
      expect(isLoopbackOrigin(origin), origin).toBe(true);
    for (const origin of ['http://ui.example', 'http://127.0.0.1:8233/', 'file://localhost', 'not a url'])
      expect(isLoopbackOrigin(origin), origin).toBe(false);
  });
});

describe('the operator scope', () => {
  it('is one of the space-separated scopes of the `scope` claim (or of a list)', () => {
    expect(hasScope({ scope: 'openid codec:operator profile' }, 'codec:operator')).toBe(true);
    expect(hasScope({ scope: ['codec:operator'] }, 'codec:operator')).toBe(true);
    expect(hasScope({ scope: 'openid codec:operators' }, 'codec:operator')).toBe(false);
    expect(hasScope({ scope: 'codec:operator-lite' }, 'codec:operator')).toBe(false);
    expect(hasScope({ roles: ['codec:operator'] }, 'codec:operator')).toBe(false);
    expect(hasScope({}, 'codec:operator')).toBe(false);
  });
});

describe('hostForUrl', () => {
  it('names the wildcard as loopback and brackets IPv6', () => {
    expect(['0.0.0.0', '::', '::1', '127.0.0.1', 'localhost', 'fd00::5'].map(hostForUrl)).toEqual([
      '127.0.0.1',
      '[::1]',
      '[::1]',
      '127.0.0.1',
      'localhost',
      '[fd00::5]',
    ]);
  });
});
