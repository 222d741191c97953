import { describe, expect, it } from 'vitest';
import { gitUrlProblem, type EgressPolicy } from '../../src/egress/git-url.js';
import { pinRemote, type Lookup } from '../../src/git/remote-guard.js';
import { isForbiddenAddress, isLoopback, mappedIpv4 } from '../../src/egress/special-addresses.js';
import { RepoError } from '../../src/shared/errors.js';

const resolvesTo =
  (...addresses: string[]): Lookup =>
  async () =>
    addresses.map((address) => ({ address }));
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof RepoError ? e.code : String(e)),
  );
const strict: EgressPolicy = { allowLoopback: false, allowedPorts: [443] };
const local: EgressPolicy = { allowLoopback: true, allowedPorts: [443] };

describe('isForbiddenAddress: the IANA special-purpose blocks', () => {
  // One address inside each row of the table, and its edges where a neighbour is public.
  it.each([
    ['0.0.0.0/8 this network', '0.0.0.0', '0.255.255.255'],
    ['10/8 private', '10.0.0.1', '10.255.255.255'],
    ['100.64/10 shared (CGNAT)', '100.64.0.1', '100.127.255.255'],
    ['127/8 loopback', '127.0.0.1', '127.255.255.254'],
    ['169.254/16 link local, metadata', '169.254.169.254', '169.254.0.1'],
    ['172.16/12 private', '172.16.0.1', '172.31.255.255'],
    ['192.0.0/24 IETF protocol assignments', '192.0.0.1', '192.0.0.170'],
    ['192.0.2/24 TEST-NET-1', '192.0.2.1', '192.0.2.255'],
    ['192.31.196/24 AS112-v4', '192.31.196.1', '192.31.196.255'],
    ['192.52.193/24 AMT', '192.52.193.1', '192.52.193.255'],
    ['192.88.99/24 6to4 relay anycast', '192.88.99.1', '192.88.99.255'],
    ['192.168/16 private', '192.168.1.1', '192.168.255.255'],
    ['192.175.48/24 direct delegation AS112', '192.175.48.1', '192.175.48.255'],
    ['198.18/15 benchmarking', '198.18.0.1', '198.19.255.255'],
    ['198.51.100/24 TEST-NET-2', '198.51.100.1', '198.51.100.255'],
    ['203.0.113/24 TEST-NET-3', '203.0.113.1', '203.0.113.255'],
    ['224/4 multicast', '224.0.0.1', '239.255.255.255'],
    ['240/4 reserved', '240.0.0.1', '254.255.255.255'],
    ['255.255.255.255 limited broadcast', '255.255.255.255', '255.255.255.255'],
    ['::/128 unspecified', '::', '0:0:0:0:0:0:0:0'],
    ['::1 loopback', '::1', '0:0:0:0:0:0:0:1'],
    ['::/96 IPv4-compatible', '::a00:1', '::8.8.8.8'],
    ['::ffff:0:0/96 mapped, private inside', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe'],
    ['::ffff:0:0/96 mapped, loopback inside', '::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['64:ff9b::/96 NAT64', '64:ff9b::a00:1', '64:ff9b::808:808'],
    ['64:ff9b:1::/48 local NAT64', '64:ff9b:1::1', '64:ff9b:1:ffff::1'],
    ['100::/64 discard-only', '100::1', '100::ffff:ffff:ffff:ffff'],
    ['2001::/32 Teredo', '2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
    ['2001:2::/48 benchmarking', '2001:2::1', '2001:2:0:ffff::1'],
    ['2001:10::/28 ORCHID', '2001:10::1', '2001:1f::1'],
    ['2001:20::/28 ORCHIDv2', '2001:20::1', '2001:2f::1'],
    ['2001::/23 the rest of the IETF block', '2001:1::1', '2001:1ff::1'],
    ['2001:db8::/32 documentation', '2001:db8::1', '2001:db8:ffff::1'],
    ['2002::/16 6to4', '2002:a00:1::1', '2002:c0a8:101::1'],
    ['2620:4f:8000::/48 direct delegation AS112', '2620:4f:8000::1', '2620:4f:8000:ffff::1'],
    ['3fff::/20 documentation', '3fff::1', '3fff:fff::1'],
    ['5f00::/16 SRv6 SIDs', '5f00::1', '5f00:ffff::1'],
    ['fc00::/7 unique local, metadata', 'fd00:ec2::254', 'fc00::1'],
    ['fe80::/10 link local', 'fe80::1', 'febf::1'],
    ['fec0::/10 site local', 'fec0::1', 'feff::1'],
    ['ff00::/8 multicast', 'ff02::1', 'ff0e::1'],
    ['outside 2000::/3: reserved', '4000::1', '1000::1'],
  ])('refuses %s (%s, %s)', (_label, first, second) => {
    expect(isForbiddenAddress(first, false)).toBe(true);
    expect(isForbiddenAddress(second, false)).toBe(true);
  });

  it.each([
    '140.82.112.3',
    '8.8.8.8',
    '1.1.1.1',
    '192.0.3.1',
    '100.128.0.1',
    '172.32.0.1',
    '2606:50c0:8000::153',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
    '2001:200::1',
  ])('allows public %s', (address) => {
    expect(isForbiddenAddress(address, false)).toBe(false);
  });

  it('allows loopback, in every form, only when told to; never anything else special', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
      expect(isLoopback(address), address).toBe(true);
      expect(isForbiddenAddress(address, true), address).toBe(false);
    }
    for (const address of ['10.0.0.1', '::', '0.0.0.0', '::ffff:10.0.0.1', 'fe80::1', '64:ff9b::7f00:1']) {
      expect(isForbiddenAddress(address, true), address).toBe(true);
    }
  });

  it('reads the IPv4 address of a mapped IPv6 address in both notations', () => {
    expect(mappedIpv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(mappedIpv4('::ffff:a01:203')).toBe('10.1.2.3');
    expect(mappedIpv4('::a01:203')).toBeUndefined();
    expect(mappedIpv4('10.1.2.3')).toBeUndefined();
  });
});

describe('gitUrlProblem', () => {
  it.each([
    'https://github.com/octocat/Hello-World.git',
    'https://GitHub.com/octocat/Hello-World.git',
    'https://github.com:443/octocat/Hello-World.git',
    'https://xn--bcher-kva.example.com/r.git',
    'https://140.82.112.3/r.git',
    'https://[2606:50c0:8000::153]/r.git',
  ])('accepts %s', (url) => {
    expect(gitUrlProblem(url, strict)).toBeUndefined();
  });

  it.each([
    ['https://github.com:8443/r.git', 'a port other than 443 (GIT_ALLOWED_PORTS)'],
    ['https://github.com:22/r.git', 'a port other than 443 (GIT_ALLOWED_PORTS)'],
    ['https://github.com:0443/r.git', 'a host not in canonical form'],
    ['https://github.com./r.git', 'a host name ending in a dot'],
    ['http://github.com/r.git', 'a port other than 443 (GIT_ALLOWED_PORTS)'],
    ['http://github.com:443/r.git', 'plain http (https only)'],
    ['https://2130706433/r.git', 'a host not in canonical form'],
    ['https://0x7f.1/r.git', 'a host not in canonical form'],
    ['https://0177.0.0.1/r.git', 'a host not in canonical form'],
    ['https://127.1/r.git', 'a host not in canonical form'],
    ['https://[0:0:0:0:0:0:0:1]/r.git', 'a host not in canonical form'],
    ['https://[::ffff:7f00:1]/r.git', 'an IPv4-mapped IPv6 address'],
    ['https://[::ffff:8.8.8.8]/r.git', 'a host not in canonical form'],
    ['https://[::a00:1]/r.git', 'a special-purpose address'],
    ['https://[64:ff9b::a00:1]/r.git', 'a special-purpose address'],
    ['https://[fec0::1]/r.git', 'a special-purpose address'],
    ['https://ⓛocalhost/r.git', 'a host not in canonical form'],
    ['https://lоcalhost/r.git', 'a host not in canonical form'],
    ['https://localhost。/r.git', 'a host not in canonical form'],
    ['https://ｌｏｃａｌｈｏｓｔ/r.git', 'a host not in canonical form'],
    ['https://%6c%6fcalhost/r.git', 'a host not in canonical form'],
    ['https://localhost./r.git', 'a host name ending in a dot'],
    ['https://git.localhost/r.git', 'a loopback host'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'a special-use or single-label host name'],
    ['https://printer.local/r.git', 'a special-use or single-label host name'],
    ['https://gitlab/r.git', 'a special-use or single-label host name'],
    ['https://git_lab.example.com/r.git', 'an invalid host name'],
    ['https://127.0.0.1\\@github.com/r.git', 'whitespace, control characters or backslashes'],
    ['https://github.com@127.0.0.1/r.git', 'credentials in the URL'],
    ['https://token@github.com/r.git', 'credentials in the URL'],
    ['https://github.com/r.git?x=1', 'a query or fragment'],
    ['https://github.com/r.git#x', 'a query or fragment'],
    ['https://github.com', 'no repository path'],
    ['HTTPS://github.com/r.git', 'not an http(s) URL'],
    [`https://github.com/${'a'.repeat(2100)}`, 'too long'],
  ])('refuses %s: %s', (url, problem) => {
    expect(gitUrlProblem(url, strict)).toBe(problem);
  });

  it('lets loopback through on any port, over http too, only when allowed', () => {
    for (const url of [
      'http://127.0.0.1:9000/r.git',
      'https://127.0.0.1:8443/r.git',
      'http://localhost:3000/r.git',
      'http://[::1]:9000/r.git',
    ]) {
      expect(gitUrlProblem(url, local), url).toBeUndefined();
      expect(gitUrlProblem(url, strict), url).toBeDefined();
    }
    // Loopback in a notation parsers disagree on stays refused, allowed or not.
    for (const url of [
      'http://0177.0.0.1:9000/r.git',
      'http://[::ffff:127.0.0.1]:9000/r.git',
      'http://ⓛocalhost:9000/r.git',
    ]) {
      expect(gitUrlProblem(url, local), url).toBeDefined();
    }
  });

  it('takes the ports it is given', () => {
    expect(
      gitUrlProblem('https://git.example.com:8443/r.git', { allowLoopback: false, allowedPorts: [443, 8443] }),
    ).toBeUndefined();
    expect(gitUrlProblem('https://git.example.com/r.git', { allowLoopback: false, allowedPorts: [8443] })).toBe(
      'a port other than 8443 (GIT_ALLOWED_PORTS)',
    );
  });
});

describe('pinRemote', () => {
  it('pins the checked address for curl', async () => {
    const pinned = await pinRemote('https://github.com/octocat/Hello-World.git', strict, resolvesTo('140.82.112.3'));
    expect(pinned).toMatchObject({
      host: 'github.com',
      port: 443,
      address: '140.82.112.3',
      curlResolve: 'github.com:443:140.82.112.3',
    });
  });

  it('brackets IPv6 addresses in the resolve entry', async () => {
    const pinned = await pinRemote(
      'https://git.example.com:8443/r.git',
      { allowLoopback: false, allowedPorts: [8443] },
      resolvesTo('2606:50c0:8000::153'),
    );
    expect(pinned.curlResolve).toBe('git.example.com:8443:[2606:50c0:8000::153]');
  });

  it('pins nothing for an IP literal: nothing resolves it, and curl cannot parse an entry naming an IPv6 one', async () => {
    for (const url of ['https://140.82.112.3/r.git', 'https://[2606:50c0:8000::153]/r.git']) {
      const pinned = await pinRemote(url, strict, resolvesTo('10.0.0.1'));
      expect(pinned.curlResolve, url).toBeUndefined();
    }
  });

  it('refuses a host with any special-purpose address among its answers (DNS rebinding)', async () => {
    for (const bad of ['10.0.0.5', '::ffff:169.254.169.254', '64:ff9b::a00:1', 'fec0::1', '::a00:1', '127.0.0.1']) {
      expect(
        await code(pinRemote('https://evil.example.com/r.git', strict, resolvesTo('140.82.112.3', bad))),
        bad,
      ).toBe('invalid_url');
    }
  });

  it.each([
    'https://2130706433/r.git',
    'https://0x7f.1/r.git',
    'https://0177.0.0.1/r.git',
    'https://[::ffff:169.254.169.254]/r.git',
    'https://169.254.169.254/latest/meta-data',
    'https://github.com:8443/r.git',
  ])('refuses %s before any lookup', async (url) => {
    const never: Lookup = async () => expect.unreachable('no lookup for a refused URL');
    expect(await code(pinRemote(url, strict, never))).toBe('invalid_url');
  });

  it('speaks http only to loopback, and only when loopback is allowed', async () => {
    expect(await code(pinRemote('http://127.0.0.1:9000/r.git', local))).toBe('ok');
    expect(await code(pinRemote('http://127.0.0.1:9000/r.git', strict))).toBe('invalid_url');
    expect(await code(pinRemote('http://localhost:9000/r.git', local, resolvesTo('127.0.0.1', '::1')))).toBe('ok');
  });

  it('checks the port again against what the name resolved to', async () => {
    // A "localhost" that is not loopback gets no loopback exemption from the port rule.
    expect(await code(pinRemote('https://localhost:9000/r.git', local, resolvesTo('140.82.112.3')))).toBe(
      'invalid_url',
    );
    expect(await code(pinRemote('https://localhost/r.git', local, resolvesTo('140.82.112.3')))).toBe('ok');
  });

  it('refuses credentials in the URL and treats DNS failure as a network error', async () => {
    expect(await code(pinRemote('https://user:pw@github.com/r.git', strict, resolvesTo('140.82.112.3')))).toBe(
      'invalid_url',
    );
    const failing: Lookup = async () => {
      throw new Error('ENOTFOUND');
    };
    expect(await code(pinRemote('https://nowhere.example.com/r.git', strict, failing))).toBe('upstream_unavailable');
  });
});
