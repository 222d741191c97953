import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireAuth } from '../../src/config/load-config.js';

describe('loadConfig', () => {
  it('fills the documented defaults from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 8000,
      HOST: '127.0.0.1',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'repo-connect',
      MAX_REPO_SIZE_MB: 100,
      GIT_CLONE_TIMEOUT: 300,
      SANDBOX_BASE_PATH: '/tmp/repos',
      SANDBOX_TTL_SECONDS: 86400,
      GIT_ALLOW_LOOPBACK: false,
      LOG_LEVEL: 'info',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', TEMPORAL_ADDRESS: '' }).DATABASE_URL).toBeUndefined();
  });

  it('parses flags strictly', () => {
    expect(loadConfig({ GIT_ALLOW_LOOPBACK: 'true' }).GIT_ALLOW_LOOPBACK).toBe(true);
    expect(() => loadConfig({ GIT_ALLOW_LOOPBACK: 'maybe' })).toThrow(ConfigError);
  });

  it('reads GIT_ALLOWED_PORTS as a list of ports, 443 when unset or empty', () => {
    expect(loadConfig({}).GIT_ALLOWED_PORTS).toEqual([443]);
    expect(loadConfig({ GIT_ALLOWED_PORTS: '' }).GIT_ALLOWED_PORTS).toEqual([443]);
    expect(loadConfig({ GIT_ALLOWED_PORTS: '443, 8443' }).GIT_ALLOWED_PORTS).toEqual([443, 8443]);
    for (const bad of ['https', '0', '70000', ','])
      expect(() => loadConfig({ GIT_ALLOWED_PORTS: bad }), bad).toThrow(ConfigError);
  });

  it('lists every bad variable at once, by name, without echoing values', () => {
    const secret = 'not-base64-but-very-secret-value!!';
    let error: ConfigError | undefined;
    try {
      loadConfig({
        PORT: 'eighty',
        MAX_REPO_SIZE_MB: '-5',
        LOG_LEVEL: 'loud',
        MASTER_ENCRYPTION_KEY: secret,
        JWT_SECRET: 'short',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = error!.problems.map((p) => p.split(':')[0]);
    expect(names.sort()).toEqual(['JWT_SECRET', 'LOG_LEVEL', 'MASTER_ENCRYPTION_KEY', 'MAX_REPO_SIZE_MB', 'PORT']);
    expect(error!.message).not.toContain(secret);
    expect(error!.message).not.toContain('short');
  });
});

describe('auth and codec settings', () => {
  it('refuses CODEC_REQUIRE_AUTH=false unless the API listens on loopback', () => {
    expect(loadConfig({ CODEC_REQUIRE_AUTH: 'false' }).CODEC_REQUIRE_AUTH).toBe(false);
    expect(loadConfig({ CODEC_REQUIRE_AUTH: 'false', HOST: '::1' }).CODEC_REQUIRE_AUTH).toBe(false);
    expect(() => loadConfig({ CODEC_REQUIRE_AUTH: 'false', HOST: '0.0.0.0' })).toThrow(
      /CODEC_REQUIRE_AUTH: false is only allowed with HOST on loopback/,
    );
    expect(loadConfig({ HOST: '0.0.0.0' }).CODEC_REQUIRE_AUTH).toBe(true);
  });

  it('requires JWT_ISSUER and JWT_AUDIENCE with JWKS_URL in production, and only there', () => {
    const jwks = { JWKS_URL: 'https://idp.example/jwks.json' };
    expect(() => requireAuth(loadConfig({ ...jwks, NODE_ENV: 'production' }))).toThrow(
      /JWT_ISSUER, JWT_AUDIENCE: both required in production/,
    );
    expect(() =>
      requireAuth(loadConfig({ ...jwks, NODE_ENV: 'production', JWT_ISSUER: 'https://idp.example' })),
    ).toThrow(ConfigError);
    expect(
      requireAuth(
        loadConfig({
          ...jwks,
          NODE_ENV: 'production',
          JWT_ISSUER: 'https://idp.example',
          JWT_AUDIENCE: 'repo-connector',
        }),
      ).JWT_AUDIENCE,
    ).toBe('repo-connector');
    expect(requireAuth(loadConfig(jwks)).JWT_ISSUER).toBeUndefined();
  });

  it('takes PUBLIC_BASE_URL as an http(s) URL without a trailing slash, query or fragment', () => {
    expect(loadConfig({}).PUBLIC_BASE_URL).toBeUndefined();
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://connector.example.com/' }).PUBLIC_BASE_URL).toBe(
      'https://connector.example.com',
    );
    expect(loadConfig({ PUBLIC_BASE_URL: 'http://127.0.0.1:8000/prefix' }).PUBLIC_BASE_URL).toBe(
      'http://127.0.0.1:8000/prefix',
    );
    for (const bad of ['connector.example.com', 'ftp://x.example', 'https://x.example/?a=1', 'https://x.example/#f']) {
      expect(() => loadConfig({ PUBLIC_BASE_URL: bad }), bad).toThrow(ConfigError);
    }
  });

  it('takes one scope token as the operator scope', () => {
    expect(loadConfig({}).CODEC_OPERATOR_SCOPE).toBe('codec:operator');
    expect(() => loadConfig({ CODEC_OPERATOR_SCOPE: 'two scopes' })).toThrow(/CODEC_OPERATOR_SCOPE/);
  });

  // The entry point itself: exit 78 (EX_CONFIG) and the one problem, before anything is started.
  it('stops `npm run start:api` with exit 78 and one line naming the problem', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/api/server.ts'], {
          env: {
            PATH: process.env.PATH!,
            DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
            TEMPORAL_ADDRESS: '127.0.0.1:9',
            ...env,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 30_000,
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (status) => resolve({ status, stderr }));
      });
    const [exposed, unbound] = await Promise.all([
      run({ HOST: '0.0.0.0', CODEC_REQUIRE_AUTH: 'false', JWT_SECRET: 'x'.repeat(32) }),
      run({ NODE_ENV: 'production', JWKS_URL: 'https://idp.example/jwks.json' }),
    ]);
    expect(exposed.status).toBe(78);
    expect(exposed.stderr.split('\n').filter((l) => l.startsWith('  - '))).toEqual([
      expect.stringMatching(/^ {2}- CODEC_REQUIRE_AUTH: /),
    ]);
    expect(unbound.status).toBe(78);
    expect(unbound.stderr.split('\n').filter((l) => l.startsWith('  - '))).toEqual([
      expect.stringMatching(/^ {2}- JWT_ISSUER, JWT_AUDIENCE: both required in production/),
    ]);
  }, 60_000);
});
