import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireReadServiceSecret } from '../../src/config/load-config.js';
import { ReadTokenRefused, signReadToken, verifyReadToken } from '../../src/crypto/read-token.js';

const SECRET = 's'.repeat(32);
const grant = { userId: 'ada', repoId: '0b9c2a34-1d55-4e7a-9f3c-5a1d2e3f4a5b' };

describe("the API's token for a host's read service", () => {
  it('carries the user and the repository to the host it was signed for', async () => {
    const token = await signReadToken(SECRET, 'q-host-a', grant);
    expect(await verifyReadToken(SECRET, 'q-host-a', token)).toEqual(grant);
  });

  it('is refused by another host, under another secret, or altered', async () => {
    const token = await signReadToken(SECRET, 'q-host-a', grant);
    await expect(verifyReadToken(SECRET, 'q-host-b', token)).rejects.toThrow(ReadTokenRefused);
    await expect(verifyReadToken('t'.repeat(32), 'q-host-a', token)).rejects.toThrow(ReadTokenRefused);
    const [head, body, sig] = token.split('.');
    const altered = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), repo: 'other' })).toString('base64url')}.${sig}`;
    await expect(verifyReadToken(SECRET, 'q-host-a', altered)).rejects.toThrow(ReadTokenRefused);
  });

  it('is refused once expired, or when it was made to last longer than a read', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sign = (iat: number, exp: number) =>
      new SignJWT({ repo: grant.repoId })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('repo-connector-api')
        .setAudience('read-service:q-host-a')
        .setSubject('ada')
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(SECRET));
    await expect(verifyReadToken(SECRET, 'q-host-a', await sign(now - 120, now - 60))).rejects.toThrow(/expired/);
    await expect(verifyReadToken(SECRET, 'q-host-a', await sign(now - 3600, now + 3600))).rejects.toThrow(
      ReadTokenRefused,
    );
  });

  it('needs READ_SERVICE_SECRET set, and never equal to JWT_SECRET', () => {
    const base = { DATABASE_URL: 'postgres://x@127.0.0.1/x', TEMPORAL_ADDRESS: 'x:1', JWT_SECRET: 'j'.repeat(32) };
    expect(() => requireReadServiceSecret(loadConfig(base))).toThrow(ConfigError);
    expect(() => requireReadServiceSecret(loadConfig({ ...base, READ_SERVICE_SECRET: 'j'.repeat(32) }))).toThrow(
      /must differ from JWT_SECRET/,
    );
    expect(requireReadServiceSecret(loadConfig({ ...base, READ_SERVICE_SECRET: SECRET })).READ_SERVICE_SECRET).toBe(
      SECRET,
    );
  });
});
