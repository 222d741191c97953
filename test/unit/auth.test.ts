import { Hono } from 'hono';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, requireUser } from '../../src/api/auth.js';
import type { ApiEnv } from '../../src/api/context.js';
import { type ApiError, sendError } from '../../src/api/errors.js';
import { createLogger } from '../../src/config/logger.js';
import { signDevToken } from '../../src/dev/sign-token.js';
import { signingKey, signWith } from '../support/jwks-server.js';

const SECRET = 'a-test-secret-of-at-least-32-characters';
const now = () => Math.floor(Date.now() / 1000);

function appWith(settings: Parameters<typeof createTokenVerifier>[0], scope?: string) {
  const app = new Hono<ApiEnv>();
  app.use((c, next) => {
    c.set('log', createLogger({ level: 'silent' }));
    return next();
  });
  app.use(requireUser(createTokenVerifier(settings), { scope }));
  app.get('/', (c) => c.text(c.get('userId')));
  app.onError((err, c) => sendError(c, err as ApiError));
  return async (token: string) => {
    const res = await app.request('/', { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, text: await res.text() };
  };
}

describe('HS256 tokens (JWT_SECRET)', () => {
  const send = appWith({ jwtSecret: SECRET });

  it('accepts what `npm run token` prints, and names its subject', async () => {
    expect(await send(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: 60 }))).toEqual({
      status: 200,
      text: 'alice',
    });
  });

  it('refuses a token without exp or sub, expired, or signed with another secret', async () => {
    const key = new TextEncoder().encode(SECRET);
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key);
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 60)
      .sign(key);
    expect(await send(noExp)).toMatchObject({ status: 401, text: expect.stringContaining('no exp claim') });
    expect(await send(noSub)).toMatchObject({ status: 401, text: expect.stringContaining('no sub claim') });
    expect(await send(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: -60 }))).toMatchObject({
      status: 401,
      text: expect.stringContaining('expired'),
    });
    expect((await send(await signDevToken('x'.repeat(40), { sub: 'alice', ttlSeconds: 60 }))).status).toBe(401);
  });

  it('never accepts an RS256 token (no key set configured) nor alg none', async () => {
    const rsa = await signingKey('k1');
    expect((await send(await signWith(rsa, { sub: 'alice', exp: now() + 60 }))).status).toBe(401);
    expect((await send(new UnsecuredJWT({ sub: 'alice' }).setExpirationTime(now() + 60).encode())).status).toBe(401);
  });

  it("binds JWT_ISSUER and JWT_AUDIENCE to the key set's tokens: the secret's own need neither (the key-set side is in jwks.test)", async () => {
    const strict = appWith({ jwtSecret: SECRET, issuer: 'https://issuer.test', audience: 'repo-connector' });
    expect((await strict(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: 60 }))).status).toBe(200);
    // Still the secret's checks: another secret, or no expiry, is refused all the same.
    expect((await strict(await signDevToken('x'.repeat(40), { sub: 'alice', ttlSeconds: 60 }))).status).toBe(401);
    expect(await strict(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: -60 }))).toMatchObject({
      status: 401,
      text: expect.stringContaining('expired'),
    });
  });

  it('answers 403 forbidden, naming the scope, to a valid token without a required scope', async () => {
    const operatorOnly = appWith({ jwtSecret: SECRET }, 'codec:operator');
    const user = await operatorOnly(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: 60 }));
    expect(user.status).toBe(403);
    expect(JSON.parse(user.text)).toMatchObject({
      detail: {
        error: 'forbidden',
        required_scope: 'codec:operator',
        message: expect.stringContaining('codec:operator'),
      },
    });
    expect(
      (await operatorOnly(await signDevToken(SECRET, { sub: 'alice', ttlSeconds: 60, scope: 'codec:operator' })))
        .status,
    ).toBe(200);
  });
});
