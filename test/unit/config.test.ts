import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.js';

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
    for (const bad of ['https', '0', '70000', ',']) expect(() => loadConfig({ GIT_ALLOWED_PORTS: bad }), bad).toThrow(ConfigError);
  });

  it('lists every bad variable at once, by name, without echoing values', () => {
    const secret = 'not-base64-but-very-secret-value!!';
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'eighty', MAX_REPO_SIZE_MB: '-5', LOG_LEVEL: 'loud', MASTER_ENCRYPTION_KEY: secret, JWT_SECRET: 'short' });
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
