import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { honoFor, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';
import { signingKey, signWith, startJwksServer, type JwksServer, type SigningKey } from '../support/jwks-server.js';

// Tokens from an identity provider: RS256/ES256, verified against its key set (JWKS_URL), served
// here by a local key set server that counts its fetches. The API is the real one (its database and
// Temporal); each test builds it with the auth settings it is about.
const stack = inject('stack');
const ISSUER = 'https://idp.test';
const AUDIENCE = 'repo-connector';
const logger = createLogger({ level: 'silent' });
let app: AppUnderTest;
let idp: JwksServer;
let rsa: SigningKey;
let ec: SigningKey;

beforeAll(async () => {
  app = await startAppUnderTest(stack, {}, { worker: false });
  [rsa, ec] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256')]);
  idp = await startJwksServer([rsa, ec]);
});

afterAll(async () => {
  await idp?.close();
  await app?.stop();
});

const claims = (extra: Record<string, unknown> = {}) => ({
  sub: 'idp-user',
  iss: ISSUER,
  aud: AUDIENCE,
  exp: Math.floor(Date.now() / 1000) + 600,
  ...extra,
});

/** The API trusting `jwksUrl` (the shared key set server unless named), with iss and aud enforced. */
const apiWith = (settings: Parameters<typeof honoFor>[2] = {}) =>
  honoFor(app, logger, {
    jwtSecret: undefined,
    jwksUrl: idp.url,
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
    ...settings,
  });

async function createProject(api: ReturnType<typeof honoFor>, token: string) {
  const res = await api.request('/api/v1/projects', {
    method: 'POST',
    body: JSON.stringify({ name: 'jwks' }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  return {
    status: res.status,
    body: (await res.json()) as { owner_id?: string; detail?: { error: string; message: string } },
  };
}

describe('tokens verified by the key set (JWKS_URL)', () => {
  it('accepts RS256 and ES256 tokens, the subject becoming the owner, and fetches the key set once for many requests', async () => {
    const api = apiWith();
    const before = idp.fetches();
    for (let i = 0; i < 5; i++) {
      expect(await createProject(api, await signWith(rsa, claims()))).toMatchObject({
        status: 201,
        body: { owner_id: 'idp-user' },
      });
      expect((await createProject(api, await signWith(ec, claims()))).status).toBe(201);
    }
    expect(idp.fetches() - before).toBe(1);
  });

  const refusals: Array<[string, Record<string, unknown>, string]> = [
    ['a wrong issuer', { iss: 'https://other-idp.test' }, 'iss claim is not accepted'],
    ['a wrong audience', { aud: 'another-api' }, 'aud claim is not accepted'],
    ['no audience', { aud: undefined }, 'no aud claim'],
    ['no issuer', { iss: undefined }, 'no iss claim'],
    ['no expiry', { exp: undefined }, 'no exp claim'],
    ['no subject', { sub: undefined }, 'no sub claim'],
    ['an expiry passed', { exp: Math.floor(Date.now() / 1000) - 60 }, 'expired'],
  ];
  for (const [label, change, message] of refusals) {
    it(`answers 401 to a token with ${label}`, async () => {
      const res = await createProject(apiWith(), await signWith(rsa, claims(change)));
      expect(res).toMatchObject({
        status: 401,
        body: { detail: { error: 'unauthorized', message: expect.stringContaining(message) } },
      });
    });
  }

  it('picks up a rotated-in key: a token by a key published after the first fetch passes once the set is refetched', async () => {
    const rotating = await startJwksServer([rsa]);
    try {
      // No cooldown: an unknown key id refetches at once (production waits jose's 30 s between such fetches).
      const api = apiWith({ jwksUrl: rotating.url, jwksCooldownMs: 0 });
      expect((await createProject(api, await signWith(rsa, claims()))).status).toBe(201);
      expect(rotating.fetches()).toBe(1);
      const next = await signingKey('rsa-2');
      // Not published yet: refetched, still unknown.
      expect((await createProject(api, await signWith(next, claims()))).status).toBe(401);
      expect(rotating.fetches()).toBe(2);
      rotating.publish([rsa, next]);
      expect((await createProject(api, await signWith(next, claims()))).status).toBe(201);
      expect(rotating.fetches()).toBe(3);
      // Both keys now known: no more fetches.
      expect((await createProject(api, await signWith(next, claims()))).status).toBe(201);
      expect((await createProject(api, await signWith(rsa, claims()))).status).toBe(201);
      expect(rotating.fetches()).toBe(3);
    } finally {
      await rotating.close();
    }
  });

  it('within the cooldown, tokens naming unknown keys cost no fetch', async () => {
    const server = await startJwksServer([rsa]);
    try {
      const api = apiWith({ jwksUrl: server.url, jwksCooldownMs: 60_000 });
      expect((await createProject(api, await signWith(rsa, claims()))).status).toBe(201);
      for (let i = 0; i < 5; i++) {
        expect((await createProject(api, await signWith(await signingKey(`made-up-${i}`), claims()))).status).toBe(401);
      }
      expect(server.fetches()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('answers 502 upstream_unavailable, not 401, when the key set cannot be fetched', async () => {
    // Nothing listens on the discard port.
    const res = await createProject(
      apiWith({ jwksUrl: 'http://127.0.0.1:9/jwks.json' }),
      await signWith(rsa, claims()),
    );
    expect(res).toMatchObject({
      status: 502,
      body: { detail: { error: 'upstream_unavailable', message: expect.stringContaining('JWKS_URL') } },
    });
  });
});

describe('algorithm confusion', () => {
  const none = () => new UnsecuredJWT(claims()).encode();

  it('never takes an HS256 token through the key set, even one keyed with the public key, and costs no fetch', async () => {
    const api = apiWith();
    const before = idp.fetches();
    const publicKeyAsSecret = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(publicKeyAsSecret);
    expect((await createProject(api, hs)).status).toBe(401);
    // Signed with the API's own secret, which this API (JWKS only) does not hold as a key.
    expect((await createProject(api, await app.tokenFor('idp-user'))).status).toBe(401);
    expect((await createProject(api, none())).status).toBe(401);
    expect(idp.fetches()).toBe(before);
  });

  it('never takes an RS256 token through the secret, and with both configured each kind only by its own key', async () => {
    const secretOnly = honoFor(app, logger);
    expect((await createProject(secretOnly, await signWith(rsa, claims()))).status).toBe(401);
    expect((await createProject(secretOnly, none())).status).toBe(401);
    const both = apiWith({ jwtSecret: app.config.JWT_SECRET, jwtIssuer: undefined, jwtAudience: undefined });
    expect((await createProject(both, await signWith(rsa, claims()))).status).toBe(201);
    expect((await createProject(both, await app.tokenFor('hs-user'))).status).toBe(201);
    const publicKeyAsSecret = new TextEncoder().encode(JSON.stringify(rsa.jwk));
    expect(
      (
        await createProject(
          both,
          await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(publicKeyAsSecret),
        )
      ).status,
    ).toBe(401);
    expect((await createProject(both, none())).status).toBe(401);
  });
});

describe('the operator scope from an identity provider', () => {
  it('lets a key-set token with scope codec:operator decode, and refuses one without it (403)', async () => {
    const api = apiWith();
    const decode = async (token: string) =>
      (
        await api.request('/codec/decode', {
          method: 'POST',
          body: JSON.stringify({ payloads: [] }),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        })
      ).status;
    expect(await decode(await signWith(rsa, claims({ scope: 'openid profile codec:operator' })))).toBe(200);
    expect(await decode(await signWith(rsa, claims({ scope: 'openid profile' })))).toBe(403);
  });
});
